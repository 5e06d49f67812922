/**
 * The vNIC loopback workload of the benchmark suite: two virtual adapters (the built-in
 * netvmini-style miniport) on one hub, a protocol bound to each. One round sends a burst of
 * BURST frames from adapter 0 to adapter 1 through the whole path:
 *
 *   NdisSendNetBufferLists → miniport send (one Wasm call queues the chain) → runDpcs: hub DPC
 *   in Wasm (copy each frame into a receive NBL of adapter 1) → NdisMSendNetBufferListsComplete
 *   → protocol send-complete → NdisMIndicateReceiveNetBufferLists → protocol receive →
 *   NdisReturnNetBufferLists → miniport return (re-posts the receive NBLs)
 *
 * The sender reuses BURST preallocated NBLs (frames written once), as a driver with a
 * preallocated send ring does; the receiver checks each burst's count and returns at once.
 *
 * Each loopback's protocol binds only its own two adapters (it declines the others with
 * NDIS_STATUS_NOT_SUPPORTED): with two loopbacks in one runtime, a protocol bound to every
 * adapter would receive the other loopback's frames too, and each frame would be indicated to
 * two bindings.
 */
import {
  NDIS_OBJECT_TYPE_DEFAULT, NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS, NDIS_OBJECT_TYPE_OPEN_PARAMETERS,
  NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
  NormalPagePriority, POOL_TAG, NDIS_STATUS_NOT_SUPPORTED,
} from '../build/ts/index.js';

/**
 * Builds the loopback on runtime `rt` for frames of `frameSize` bytes.
 * @returns `round()` (one burst, returns frames received) and `close()`.
 */
export function makeLoopback(rt, frameSize, burst = 64) {
  const noop = () => 0;
  const bound = [];
  const proto = { value: 0 };
  let received = 0;
  let completed = 0;
  const names = [`bench${frameSize}-0`, `bench${frameSize}-1`];
  rt.NdisRegisterProtocolDriver(0, {
    Header: { Type: NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS, Revision: 1, Size: 64 },
    MajorNdisVersion: 6, MinorNdisVersion: 20, Name: 'BenchProt',
    BindAdapterHandlerEx(_c, bindContext, params) {
      if (!names.includes(params.AdapterName)) return NDIS_STATUS_NOT_SUPPORTED; // another loopback's
      const out = { value: 0 };
      const ctx = bound.length;
      rt.NdisOpenAdapterEx(proto.value, ctx, { Header: { Type: NDIS_OBJECT_TYPE_OPEN_PARAMETERS, Revision: 1, Size: 36 }, AdapterName: params.AdapterName }, bindContext, out);
      const pool = rt.NdisAllocateNetBufferListPool(out.value, {
        Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 },
        ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: POOL_TAG('dnSB'), DataSize: 1514,
      });
      bound.push({ binding: out.value, pool, mac: params.CurrentMacAddress, nbls: [] });
      return 0;
    },
    UnbindAdapterHandlerEx(_u, ctx) {
      const b = bound[ctx];
      for (const n of b.nbls) rt.NdisFreeNetBufferList(n);
      rt.NdisFreeNetBufferListPool(b.pool);
      return rt.NdisCloseAdapterEx(b.binding);
    },
    OpenAdapterCompleteHandlerEx: noop, CloseAdapterCompleteHandlerEx: noop, NetPnPEventHandler: noop,
    OidRequestCompleteHandler: noop, StatusHandlerEx: noop,
    ReceiveNetBufferListsHandler(ctx, nbls, _port, count) {
      received += count;
      rt.NdisReturnNetBufferLists(bound[ctx].binding, nbls, 0);
    },
    SendNetBufferListsCompleteHandler(_ctx, _nbls) {
      completed++; // the NBLs stay in the sender's array for the next round
    },
  }, proto);
  const miniport = rt.registerVirtualMiniport({ tcbCount: 256, rcbCount: 256 });
  const hub = rt.createHub('bench hub');
  const adapters = names.map((name) => rt.createAdapter(miniport, { name, hub }));
  if (bound.length !== 2) throw new Error(`the loopback protocol bound ${bound.length} adapters, not its 2`);
  const [tx, rx] = bound;
  for (let i = 0; i < burst; i++) {
    const nbl = rt.NdisAllocateNetBufferList(tx.pool, 0, 0);
    const nb = rt.NET_BUFFER_LIST_FIRST_NB(nbl);
    rt.NET_BUFFER_DATA_LENGTH_SET(nb, frameSize);
    const f = rt.bytes(rt.MmGetSystemAddressForMdlSafe(rt.NET_BUFFER_FIRST_MDL(nb), NormalPagePriority), frameSize);
    f.set(rx.mac, 0);
    f.set(tx.mac, 6);
    f[12] = 0x88;
    f[13] = 0xb5;
    f.fill(i, 14);
    tx.nbls.push(nbl);
  }
  const nbls = tx.nbls;
  return {
    round() {
      // Link the burst (the previous send-complete handed the NBLs back).
      for (let i = 0; i < nbls.length; i++) rt.NET_BUFFER_LIST_NEXT_NBL_SET(nbls[i], i + 1 < nbls.length ? nbls[i + 1] : 0);
      const before = received;
      rt.NdisSendNetBufferLists(tx.binding, nbls[0], 0, 0);
      rt.runDpcs();
      if (received - before !== nbls.length) throw new Error(`loopback lost frames: ${received - before} of ${nbls.length}`);
      return nbls.length;
    },
    stats() {
      return { received, completed, counters: adapters.map((a) => rt.nicCounters(a.handle)) };
    },
    close() {
      for (const a of adapters) a.remove();
      rt.NdisDeregisterProtocolDriver(proto.value);
      rt.NdisMDeregisterMiniportDriver(miniport);
      hub.destroy();
    },
  };
}
