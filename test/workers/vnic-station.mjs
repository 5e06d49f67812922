// A station for the cross-worker vNIC tests: the built-in virtual miniport with one adapter on
// `hub`, and a protocol bound to it that sends numbered frames and records what it receives.
// Frame layout: broadcast dst, src MAC, EtherType 0x88B5, u32 sender id, u32 sequence, then a
// pattern derived from (id, seq) that the receiver checks byte for byte.
import {
  NDIS_OBJECT_TYPE_DEFAULT, NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS, NDIS_OBJECT_TYPE_OPEN_PARAMETERS,
  NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
  NormalPagePriority, POOL_TAG,
} from '../../build/ts/index.js';

const pattern = (id, seq, i) => ((i * 13 + seq * 7 + id * 29) % 251) + 1;

export function makeStation(rt, id, hub) {
  const noop = () => 0;
  const proto = { value: 0 };
  const st = { binding: 0, pool: 0, mac: null };
  const received = [];
  let completed = 0;
  let bad = 0;
  rt.NdisRegisterProtocolDriver(0, {
    Header: { Type: NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS, Revision: 1, Size: 64 },
    MajorNdisVersion: 6, MinorNdisVersion: 20, Name: `Station${id}`,
    BindAdapterHandlerEx(_c, bindContext, params) {
      const out = { value: 0 };
      rt.NdisOpenAdapterEx(proto.value, 0, { Header: { Type: NDIS_OBJECT_TYPE_OPEN_PARAMETERS, Revision: 1, Size: 36 }, AdapterName: params.AdapterName }, bindContext, out);
      st.binding = out.value;
      st.mac = params.CurrentMacAddress;
      st.pool = rt.NdisAllocateNetBufferListPool(out.value, {
        Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 },
        ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: POOL_TAG('tSvW'), DataSize: 1514,
      });
      return 0;
    },
    UnbindAdapterHandlerEx() {
      rt.NdisFreeNetBufferListPool(st.pool);
      return rt.NdisCloseAdapterEx(st.binding);
    },
    OpenAdapterCompleteHandlerEx: noop, CloseAdapterCompleteHandlerEx: noop, NetPnPEventHandler: noop,
    OidRequestCompleteHandler: noop, StatusHandlerEx: noop,
    ReceiveNetBufferListsHandler(_ctx, nbls) {
      for (let n = nbls; n !== 0; n = rt.NET_BUFFER_LIST_NEXT_NBL(n)) {
        const nb = rt.NET_BUFFER_LIST_FIRST_NB(n);
        const len = rt.NET_BUFFER_DATA_LENGTH(nb);
        const va = rt.MmGetSystemAddressForMdlSafe(rt.NET_BUFFER_CURRENT_MDL(nb), NormalPagePriority) + rt.NET_BUFFER_CURRENT_MDL_OFFSET(nb);
        const f = rt.bytes(va, len);
        const dv = new DataView(f.buffer, f.byteOffset, len);
        const from = dv.getUint32(14), seq = dv.getUint32(18);
        let ok = f[12] === 0x88 && f[13] === 0xb5;
        for (let i = 22; i < len && ok; i++) if (f[i] !== pattern(from, seq, i)) ok = false;
        if (!ok) bad++;
        received.push({ from, seq, len });
      }
      rt.NdisReturnNetBufferLists(st.binding, nbls, 0);
    },
    SendNetBufferListsCompleteHandler(_ctx, nbls) {
      for (let n = nbls; n !== 0;) {
        const next = rt.NET_BUFFER_LIST_NEXT_NBL(n);
        rt.NdisFreeNetBufferList(n);
        completed++;
        n = next;
      }
    },
  }, proto);
  const miniport = rt.registerVirtualMiniport({ tcbCount: 256, rcbCount: 256 });
  const adapter = rt.createAdapter(miniport, { name: `station${id}`, hub });
  return {
    received,
    get completed() { return completed; },
    get bad() { return bad; },
    /** Sends frames `seqs` (each `len` bytes, at least 60: the minimum frame) as one chain. */
    send(seqs, len) {
      if (len < 60) throw new RangeError('station frames are at least 60 bytes');
      let head = 0, tail = 0;
      for (const seq of seqs) {
        const nbl = rt.NdisAllocateNetBufferList(st.pool, 0, 0);
        const nb = rt.NET_BUFFER_LIST_FIRST_NB(nbl);
        rt.NET_BUFFER_DATA_LENGTH_SET(nb, len);
        const f = rt.bytes(rt.MmGetSystemAddressForMdlSafe(rt.NET_BUFFER_FIRST_MDL(nb), NormalPagePriority), len);
        f.fill(0xff, 0, 6);
        f.set(st.mac, 6);
        f[12] = 0x88;
        f[13] = 0xb5;
        const dv = new DataView(f.buffer, f.byteOffset, len);
        dv.setUint32(14, id);
        dv.setUint32(18, seq);
        for (let i = 22; i < len; i++) f[i] = pattern(id, seq, i);
        if (tail) rt.NET_BUFFER_LIST_NEXT_NBL_SET(tail, nbl); else head = nbl;
        tail = nbl;
      }
      if (head) rt.NdisSendNetBufferLists(st.binding, head, 0, 0);
    },
    close() {
      adapter.remove();
      rt.NdisDeregisterProtocolDriver(proto.value);
      rt.NdisMDeregisterMiniportDriver(miniport);
    },
  };
}
