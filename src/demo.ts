/**
 * `npm start`: the showcase. Two virtual adapters (netvmini's model, the frame copying done in
 * Wasm) on one hub; on each, a counting filter and a protocol bound above it. Each protocol
 * sends a burst of Ethernet frames to the other adapter; the frames are received, checked and
 * returned; then everything is torn down and every pool is freed.
 *
 *   node build/ts/demo.js [--frames N] [--json]
 */
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import {
  createRuntime, NDIS_STATUS_SUCCESS, NDIS_OBJECT_TYPE_DEFAULT, NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS,
  NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1, NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1,
  NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
  NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS, NDIS_FILTER_CHARACTERISTICS_REVISION_1, NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES,
  NDIS_OBJECT_TYPE_OPEN_PARAMETERS, NormalPagePriority, POOL_TAG,
  type NDIS_HANDLE, type NDIS_BIND_PARAMETERS, type PNET_BUFFER_LIST, type PNET_BUFFER, type PMDL, type PoolmonRow,
} from './index.js';

let args: { frames: string; json: boolean; help: boolean };
try {
  ({ values: args } = parseArgs({
    options: { frames: { type: 'string', default: '64' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    strict: true,
  }) as { values: typeof args });
} catch (e) {
  console.error(`${(e as Error).message}\nusage: npm start -- [--frames N] [--json]`);
  process.exit(2);
}
if (args.help) {
  console.log('usage: npm start -- [--frames N] [--json]\n  --frames N  frames each adapter sends (default 64, at most 100000)\n  --json      print the results as JSON');
  process.exit(0);
}
const FRAMES = Number(args.frames);
if (!Number.isInteger(FRAMES) || FRAMES < 0 || FRAMES > 100_000) {
  console.error(`--frames must be an integer in [0, 100000] (got ${args.frames})`);
  process.exit(2);
}
const json = args.json;
const say = (s = '') => { if (!json) console.log(s); };

const rt = await createRuntime();
const hex = (n: number) => '0x' + (n >>> 0).toString(16).padStart(8, '0');
const macStr = (m: readonly number[]) => m.map((b) => b.toString(16).padStart(2, '0')).join(':');
const noop = () => 0;

// -- a counting pass-through filter (NDIS's filter sample, reduced) ------------------------------

const filterStats = new Map<number, { adapter: string; sent: number; received: number }>();
const filterOut = { value: 0 as NDIS_HANDLE | 0 };
let nextFilterCtx = 1;
const filterHandles = new Map<number, NDIS_HANDLE>();
rt.NdisFRegisterFilterDriver(0, 0, {
  Header: { Type: NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS, Revision: NDIS_FILTER_CHARACTERISTICS_REVISION_1, Size: 0x9c },
  MajorNdisVersion: 6, MinorNdisVersion: 20, FriendlyName: 'Frame counter', UniqueName: '{demo-filter}', ServiceName: 'CountFlt',
  AttachHandler(NdisFilterHandle: NDIS_HANDLE, _ctx: number, params: { BaseMiniportName: string }) {
    const ctx = nextFilterCtx++;
    filterHandles.set(ctx, NdisFilterHandle);
    filterStats.set(ctx, { adapter: params.BaseMiniportName, sent: 0, received: 0 });
    return rt.NdisFSetAttributes(NdisFilterHandle, ctx, { Header: { Type: NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES, Revision: 1, Size: 8 } });
  },
  DetachHandler: noop, RestartHandler: noop, PauseHandler: noop,
  SendNetBufferListsHandler(ctx: number, nbls: PNET_BUFFER_LIST, port: number, flags: number) {
    filterStats.get(ctx)!.sent += rt.countNetBufferLists(nbls);
    rt.NdisFSendNetBufferLists(filterHandles.get(ctx)!, nbls, port, flags);
  },
  SendNetBufferListsCompleteHandler(ctx: number, nbls: PNET_BUFFER_LIST, flags: number) {
    rt.NdisFSendNetBufferListsComplete(filterHandles.get(ctx)!, nbls, flags);
  },
  ReceiveNetBufferListsHandler(ctx: number, nbls: PNET_BUFFER_LIST, port: number, count: number, flags: number) {
    filterStats.get(ctx)!.received += count;
    rt.NdisFIndicateReceiveNetBufferLists(filterHandles.get(ctx)!, nbls, port, count, flags);
  },
  ReturnNetBufferListsHandler(ctx: number, nbls: PNET_BUFFER_LIST, flags: number) {
    rt.NdisFReturnNetBufferLists(filterHandles.get(ctx)!, nbls, flags);
  },
}, filterOut);

// -- a protocol that sends Ethernet frames and checks what it receives ---------------------------

const ETHERTYPE = 0x88b5; // IEEE 802 local experimental
interface Bound { adapter: string; mac: number[]; binding: NDIS_HANDLE; pool: NDIS_HANDLE; sent: number; completed: number; received: number; bad: number }
const bound = new Map<number, Bound>();
let nextBindingCtx = 1;
const protocolOut = { value: 0 as NDIS_HANDLE | 0 };

/** Bytes of the frame in an NBL's first NB (zero-copy view of linear memory). */
function frameOf(nbl: PNET_BUFFER_LIST): Uint8Array {
  const nb = rt.NET_BUFFER_LIST_FIRST_NB(nbl) as PNET_BUFFER;
  const va = rt.MmGetSystemAddressForMdlSafe(rt.NET_BUFFER_FIRST_MDL(nb) as PMDL, NormalPagePriority);
  return rt.bytes(va + rt.NET_BUFFER_DATA_OFFSET(nb), rt.NET_BUFFER_DATA_LENGTH(nb));
}

rt.NdisRegisterProtocolDriver(0, {
  Header: { Type: NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS, Revision: NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1, Size: NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1 },
  MajorNdisVersion: 6, MinorNdisVersion: 20, Name: 'DemoProt',
  BindAdapterHandlerEx(_ctx: number, BindContext: object, params: NDIS_BIND_PARAMETERS) {
    const ctx = nextBindingCtx++;
    const out = { value: 0 as NDIS_HANDLE | 0 };
    const s = rt.NdisOpenAdapterEx(protocolOut.value as NDIS_HANDLE, ctx, { Header: { Type: NDIS_OBJECT_TYPE_OPEN_PARAMETERS, Revision: 1, Size: 0x24 }, AdapterName: params.AdapterName }, BindContext, out);
    if (s !== NDIS_STATUS_SUCCESS) return s;
    // Send pool per binding, allocated with the binding handle (seed 000: protocols allocate per binding).
    const pool = rt.NdisAllocateNetBufferListPool(out.value, {
      Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 },
      ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: POOL_TAG('dnSD'), DataSize: 1514,
    });
    if (!pool) {
      rt.NdisCloseAdapterEx(out.value as NDIS_HANDLE);
      return -1073741670; // NDIS_STATUS_RESOURCES
    }
    bound.set(ctx, { adapter: params.AdapterName, mac: params.CurrentMacAddress, binding: out.value as NDIS_HANDLE, pool, sent: 0, completed: 0, received: 0, bad: 0 });
    return NDIS_STATUS_SUCCESS;
  },
  UnbindAdapterHandlerEx(_unbind: object, ctx: number) {
    const b = bound.get(ctx)!;
    rt.NdisFreeNetBufferListPool(b.pool);
    return rt.NdisCloseAdapterEx(b.binding);
  },
  OpenAdapterCompleteHandlerEx: noop, CloseAdapterCompleteHandlerEx: noop, NetPnPEventHandler: noop,
  OidRequestCompleteHandler: noop, StatusHandlerEx: noop,
  ReceiveNetBufferListsHandler(ctx: number, nbls: PNET_BUFFER_LIST, _port: number, count: number) {
    const b = bound.get(ctx)!;
    for (let p = nbls; p; p = rt.NET_BUFFER_LIST_NEXT_NBL(p) as PNET_BUFFER_LIST) {
      const f = frameOf(p);
      const ok = f.length >= 60 && f.subarray(0, 6).every((x, i) => x === b.mac[i]) && ((f[12]! << 8) | f[13]!) === ETHERTYPE;
      if (ok) b.received++;
      else b.bad++;
    }
    void count;
    rt.NdisReturnNetBufferLists(b.binding, nbls, 0);
  },
  SendNetBufferListsCompleteHandler(ctx: number, nbls: PNET_BUFFER_LIST) {
    const b = bound.get(ctx)!;
    b.completed += rt.freeNetBufferListChain(nbls);
  },
}, protocolOut);

// -- the adapters --------------------------------------------------------------------------------

const miniport = rt.registerVirtualMiniport({ tcbCount: 256, rcbCount: 256 });
const hub = rt.createHub('demo hub')!;
const adapters = [
  rt.createAdapter(miniport, { name: 'vnic0', macAddress: [0x02, 0, 0x5e, 0, 0, 1], hub })!,
  rt.createAdapter(miniport, { name: 'vnic1', macAddress: [0x02, 0, 0x5e, 0, 0, 2], hub })!,
];
say('ndis-pool showcase: a virtual NIC hub in WebAssembly (netvmini model)');
say(`drivers: miniport 'netvmini' 0x${miniport.toString(16)}, filter 'CountFlt', protocol 'DemoProt'`);
for (const a of adapters) say(`  ${a.name} ${macStr(a.macAddress)}  state ${a.state}, filter modules ${a.filters.length}, bindings ${a.bindings.length}, NdisMiniportHandle ${hex(a.handle)}`);

const poolsBefore = rt.poolmon();

// Each protocol sends FRAMES frames (60 .. 1514 bytes) to the other adapter's MAC, in bursts of 64.
const bindings = [...bound.values()];
const t0 = performance.now();
for (let sent = 0; sent < FRAMES; ) {
  for (const b of bindings) {
    const peer = bindings.find((x) => x !== b)!;
    let head = 0 as PNET_BUFFER_LIST | 0;
    const burst = Math.min(64, FRAMES - sent);
    for (let i = burst - 1; i >= 0; i--) {
      const nbl = rt.NdisAllocateNetBufferList(b.pool, 0, 0) as PNET_BUFFER_LIST;
      if (!nbl) throw new Error('out of NBLs');
      const len = 60 + (((sent + i) * 97) % (1514 - 60 + 1));
      rt.NET_BUFFER_DATA_LENGTH_SET(rt.NET_BUFFER_LIST_FIRST_NB(nbl) as PNET_BUFFER, len);
      const f = frameOf(nbl);
      f.set(peer.mac, 0);
      f.set(b.mac, 6);
      f[12] = ETHERTYPE >> 8;
      f[13] = ETHERTYPE & 0xff;
      f.fill((sent + i) & 0xff, 14);
      rt.NET_BUFFER_LIST_NEXT_NBL_SET(nbl, head as PNET_BUFFER_LIST);
      head = nbl;
    }
    rt.NdisSendNetBufferLists(b.binding, head as PNET_BUFFER_LIST, 0, 0);
    b.sent += burst;
  }
  sent += Math.min(64, FRAMES - sent);
  rt.runDpcs();
}
const dpc = rt.runDpcs();
const ms = performance.now() - t0;
const peak = rt.poolmon();

const counters = adapters.map((a) => rt.nicCounters(a.handle)!);
say(`\nsent ${FRAMES} frames each way in bursts of 64 (${ms.toFixed(1)} ms):`);
const t = new Table({ head: ['adapter', 'sent', 'bytes', 'received', 'bytes', 'dropped', 'errors', 'filter tx/rx', 'protocol ok/bad'], style: { head: [], border: [] } });
for (const c of counters) {
  const fs = [...filterStats.values()].find((s) => s.adapter === c.name)!;
  const b = bindings.find((x) => x.adapter === c.name)!;
  t.push([c.name, c.framesSent, c.bytesSent, c.framesReceived, c.bytesReceived, c.framesDropped, c.sendErrors, `${fs.sent}/${fs.received}`, `${b.received}/${b.bad}`]);
}
say(t.toString());
const outstanding = adapters.map((a) => a.outstanding);
say(`outstanding at the miniports: ${outstanding.map((o, i) => `${adapters[i]!.name} ${o.sends} sends, ${o.receives} receives`).join('; ')}`);

// Tear down as PnP and driver unload would: adapters removed (protocols unbind and free their
// pools, filters detach, the miniport frees its receive NBLs in MiniportHaltEx), then the
// drivers deregister.
for (const a of adapters) a.remove();
rt.NdisDeregisterProtocolDriver(protocolOut.value as NDIS_HANDLE);
rt.NdisFDeregisterFilterDriver(filterOut.value as NDIS_HANDLE);
rt.NdisMDeregisterMiniportDriver(miniport as NDIS_HANDLE);
hub.destroy();
const after = rt.poolmon();
const left = after.reduce((n, r) => n + r.outstanding, 0);
// One poolmon table, per tag: outstanding after start-up, at the peak, after teardown.
say('\npools by tag (poolmon; objects outstanding after start-up, highest in one pool, after teardown):');
const pt = new Table({ head: ['Tag', 'Type', 'Allocs', 'Frees', 'Start', 'Peak/pool', 'End'], style: { head: [], border: [] } });
for (const r of after) {
  const b = poolsBefore.find((x) => x.tag === r.tag && x.type === r.type);
  pt.push([r.tag, r.type, r.allocs, r.frees, b?.outstanding ?? 0, r.peak, r.outstanding]);
}
say(pt.toString());
say(left === 0 ? 'torn down: every pool freed, 0 objects outstanding.' : `${left} objects still outstanding!`);

const ok = left === 0 && bindings.every((b) => b.received === FRAMES && b.bad === 0 && b.completed === FRAMES);
if (json) {
  const rows = (r: PoolmonRow[]) => r.map(({ tag, type, allocs, frees, outstanding: diff, bytes, peak: pk, failures }) => ({ tag, type, allocs, frees, outstanding: diff, bytes, peak: pk, failures }));
  console.log(JSON.stringify({
    frames: FRAMES, ms, dpc, ok,
    adapters: counters,
    filters: [...filterStats.values()],
    protocols: bindings.map(({ adapter, sent, completed, received, bad }) => ({ adapter, sent, completed, received, bad })),
    poolmon: { before: rows(poolsBefore), peak: rows(peak), after: rows(after) },
  }, null, 2));
}
if (!ok) {
  console.error('showcase check failed: frames lost or pools not freed');
  process.exit(1);
}
