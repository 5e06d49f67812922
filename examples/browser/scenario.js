/**
 * The Node showcase's scenario (src/demo.ts) in a browser page: NET_BUFFER and NET_BUFFER_LIST
 * pools, then two virtual NICs on a hub with a protocol bound to each, exchanging Ethernet frames
 * through NdisSendNetBufferLists and the virtual hardware's DPCs, then a full teardown. Results go
 * to the page and to `window.ndisResults` (the browser test reads them).
 */
import {
  defaultRuntime as rt, createRuntime, NdisAllocateNetBufferPool, NdisAllocateNetBufferMdlAndData, NdisFreeNetBuffer,
  NdisFreeNetBufferPool, NdisAllocateNetBufferListPool, NdisAllocateNetBufferList, NdisFreeNetBufferListPool,
  NET_BUFFER_DATA_LENGTH, NET_BUFFER_FIRST_MDL, NET_BUFFER_LIST_FIRST_NB, NET_BUFFER_LIST_NEXT_NBL_SET,
  MmGetSystemAddressForMdlSafe, NdisRegisterProtocolDriver, NdisDeregisterProtocolDriver, NdisOpenAdapterEx,
  NdisCloseAdapterEx, NdisSendNetBufferLists, NdisReturnNetBufferLists, NdisMDeregisterMiniportDriver,
  NDIS_STATUS_SUCCESS, NDIS_OBJECT_TYPE_DEFAULT, NDIS_OBJECT_TYPE_OPEN_PARAMETERS,
  NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS, NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1,
  NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1, NET_BUFFER_POOL_PARAMETERS_REVISION_1,
  NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1, NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
  NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, NormalPagePriority, POOL_TAG,
} from 'ndis-pool';

const FRAMES = 256;
const ETHERTYPE = 0x88b5;
const noop = () => 0;
const results = { userAgent: navigator.userAgent, sharedMemory: rt.sharedMemory, crossOriginIsolated: globalThis.crossOriginIsolated === true };

// 1. A NET_BUFFER pool with data (NET_BUFFER + MDL + 1514 bytes per object).
{
  const pool = NdisAllocateNetBufferPool(0, {
    Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1 },
    PoolTag: POOL_TAG('rBwB'), DataSize: 1514,
  });
  const nbs = [];
  for (let i = 0; i < 32; i++) {
    const nb = NdisAllocateNetBufferMdlAndData(pool);
    const data = rt.bytes(MmGetSystemAddressForMdlSafe(NET_BUFFER_FIRST_MDL(nb), NormalPagePriority), NET_BUFFER_DATA_LENGTH(nb));
    data.fill(i);
    nbs.push(nb);
  }
  const dataLength = NET_BUFFER_DATA_LENGTH(nbs[0]);
  const during = rt.poolmon().find((r) => r.tag === 'BwBr');
  const intact = nbs.every((nb, i) => rt.bytes(MmGetSystemAddressForMdlSafe(NET_BUFFER_FIRST_MDL(nb), NormalPagePriority), 1514).every((b) => b === i));
  for (const nb of nbs) NdisFreeNetBuffer(nb);
  NdisFreeNetBufferPool(pool);
  results.netBufferPool = { allocated: nbs.length, distinct: new Set(nbs).size, dataLength, outstanding: during.outstanding, intact };
}

// 2. A NET_BUFFER_LIST pool: a chain of NBLs freed with one call.
{
  const pool = NdisAllocateNetBufferListPool(0, {
    Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 },
    ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: POOL_TAG('lBwB'), DataSize: 256,
  });
  let head = 0;
  for (let i = 0; i < 16; i++) {
    const nbl = NdisAllocateNetBufferList(pool, 0, 0);
    NET_BUFFER_LIST_NEXT_NBL_SET(nbl, head);
    head = nbl;
  }
  const counted = rt.countNetBufferLists(head);
  const freed = rt.freeNetBufferListChain(head);
  NdisFreeNetBufferListPool(pool);
  results.netBufferListPool = { counted, freed };
}

// 3. The virtual NIC hub: two adapters of the built-in miniport, a protocol bound to each.
{
  const bound = new Map();
  const protocol = { value: 0 };
  const frameOf = (nbl) => {
    const nb = NET_BUFFER_LIST_FIRST_NB(nbl);
    const va = MmGetSystemAddressForMdlSafe(NET_BUFFER_FIRST_MDL(nb), NormalPagePriority);
    return rt.bytes(va + rt.NET_BUFFER_DATA_OFFSET(nb), NET_BUFFER_DATA_LENGTH(nb));
  };
  NdisRegisterProtocolDriver(0, {
    Header: { Type: NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS, Revision: NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1, Size: NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1 },
    MajorNdisVersion: 6, MinorNdisVersion: 20, Name: 'PageProt',
    BindAdapterHandlerEx(_ctx, bindContext, params) {
      const ctx = bound.size + 1;
      const open = { value: 0 };
      const s = NdisOpenAdapterEx(protocol.value, ctx, { Header: { Type: NDIS_OBJECT_TYPE_OPEN_PARAMETERS, Revision: 1, Size: 0x24 }, AdapterName: params.AdapterName }, bindContext, open);
      if (s !== NDIS_STATUS_SUCCESS) return s;
      const pool = NdisAllocateNetBufferListPool(open.value, {
        Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 },
        ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: POOL_TAG('gPwB'), DataSize: 1514,
      });
      bound.set(ctx, { adapter: params.AdapterName, mac: params.CurrentMacAddress, binding: open.value, pool, sent: 0, completed: 0, received: 0, bad: 0 });
      return NDIS_STATUS_SUCCESS;
    },
    UnbindAdapterHandlerEx(_u, ctx) {
      const b = bound.get(ctx);
      NdisFreeNetBufferListPool(b.pool);
      return NdisCloseAdapterEx(b.binding);
    },
    OpenAdapterCompleteHandlerEx: noop, CloseAdapterCompleteHandlerEx: noop, NetPnPEventHandler: noop,
    OidRequestCompleteHandler: noop, StatusHandlerEx: noop,
    ReceiveNetBufferListsHandler(ctx, nbls) {
      const b = bound.get(ctx);
      for (let p = nbls; p; p = rt.NET_BUFFER_LIST_NEXT_NBL(p)) {
        const f = frameOf(p);
        const ok = f.length >= 60 && f.subarray(0, 6).every((x, i) => x === b.mac[i]) && ((f[12] << 8) | f[13]) === ETHERTYPE;
        if (ok) b.received++;
        else b.bad++;
      }
      NdisReturnNetBufferLists(b.binding, nbls, 0);
    },
    SendNetBufferListsCompleteHandler(ctx, nbls) {
      bound.get(ctx).completed += rt.freeNetBufferListChain(nbls);
    },
  }, protocol);

  const miniport = rt.registerVirtualMiniport({ tcbCount: 256, rcbCount: 256 });
  const hub = rt.createHub('page hub');
  const adapters = [
    rt.createAdapter(miniport, { name: 'vnic0', macAddress: [0x02, 0, 0x5e, 0, 0, 1], hub }),
    rt.createAdapter(miniport, { name: 'vnic1', macAddress: [0x02, 0, 0x5e, 0, 0, 2], hub }),
  ];
  const bindings = [...bound.values()];
  const t0 = performance.now();
  for (let sent = 0; sent < FRAMES; sent += 64) {
    for (const b of bindings) {
      const peer = bindings.find((x) => x !== b);
      let head = 0;
      for (let i = 63; i >= 0; i--) {
        const nbl = NdisAllocateNetBufferList(b.pool, 0, 0);
        rt.NET_BUFFER_DATA_LENGTH_SET(NET_BUFFER_LIST_FIRST_NB(nbl), 60 + (((sent + i) * 97) % 1455));
        const f = frameOf(nbl);
        f.set(peer.mac, 0);
        f.set(b.mac, 6);
        f[12] = ETHERTYPE >> 8;
        f[13] = ETHERTYPE & 0xff;
        f.fill((sent + i) & 0xff, 14);
        NET_BUFFER_LIST_NEXT_NBL_SET(nbl, head);
        head = nbl;
      }
      NdisSendNetBufferLists(b.binding, head, 0, 0);
      b.sent += 64;
    }
    rt.runDpcs();
  }
  const ms = performance.now() - t0;
  const counters = adapters.map((a) => rt.nicCounters(a.handle));
  const table = rt.poolmonTable(); // poolmon as text, as the Node demo prints it
  const peak = rt.poolmon().map(({ tag, type, allocs, peak }) => ({ tag, type, allocs, peak }));
  for (const a of adapters) a.remove();
  NdisDeregisterProtocolDriver(protocol.value);
  NdisMDeregisterMiniportDriver(miniport);
  hub.destroy();
  results.vnic = {
    frames: FRAMES, ms,
    protocols: bindings.map(({ adapter, sent, completed, received, bad }) => ({ adapter, sent, completed, received, bad })),
    adapters: counters.map(({ name, framesSent, framesReceived, framesDropped, sendErrors }) => ({ name, framesSent, framesReceived, framesDropped, sendErrors })),
    poolmon: peak,
    poolmonTable: table,
  };
}
results.outstandingAfterTeardown = rt.poolmon().reduce((n, r) => n + r.outstanding, 0);

// 4. A second runtime from the raw module, compiled while it downloads (streaming) when the
//    server sends application/wasm. compileStreaming is wrapped only to record that it ran.
{
  const streaming = { calls: 0, contentType: null };
  const original = WebAssembly.compileStreaming;
  WebAssembly.compileStreaming = async (source) => {
    const res = await source;
    streaming.calls++;
    streaming.contentType = res.headers.get('content-type');
    return original.call(WebAssembly, res);
  };
  try {
    const rt2 = await createRuntime({ wasm: import.meta.resolve('ndis-pool/ndis.wasm') });
    const pool = rt2.createSlabPool({ objectSize: 64, tag: 'Strm' });
    const a = pool.alloc();
    const b = pool.alloc();
    pool.free(a);
    pool.free(b);
    results.streaming = { ...streaming, sharedMemory: rt2.sharedMemory, allocated: a > 0 && b > 0 && a !== b, outstanding: pool.stats().outstanding, isolated: rt2 !== rt };
  } finally {
    WebAssembly.compileStreaming = original;
  }
}

const ok = results.netBufferPool.intact && results.netBufferListPool.freed === 16 && results.outstandingAfterTeardown === 0 &&
  results.vnic.protocols.every((p) => p.received === FRAMES && p.bad === 0 && p.completed === FRAMES) && results.streaming.calls === 1;
results.ok = ok;
window.ndisResults = results;
document.getElementById('status').innerHTML = ok ? '<b class="ok">all checks passed</b>' : '<b class="bad">a check failed</b>';
document.getElementById('out').textContent = JSON.stringify(results, null, 2);
