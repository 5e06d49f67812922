/**
 * Runtime isolation (README "Using it": each runtime has its own Wasm instance and memory;
 * "Pointers are plain numbers (offsets into the runtime's memory)"). Every kind of handle and
 * object — protocol, miniport and filter driver handles, adapter / binding / filter module
 * handles, NET_BUFFER / NBL / packet / buffer pool handles, NB, NBL, MDL, tagged memory,
 * generic object, packet, buffer, SlabPool object and generational handle, ring, SlabPool, hub —
 * is passed to another runtime:
 *
 * - where the other runtime has nothing at that address (an empty runtime) or something else
 *   (the same objects laid out elsewhere), every call is an NdisBugCheck and neither runtime
 *   changes (linear memory, poolmon, driver model);
 * - where the other runtime has a live object of the same kind at the same address (both ran
 *   the same sequence, so the numbers coincide), that runtime's own object is what the call
 *   sees: freeing it in one runtime leaves the other's intact and usable, and the freeing
 *   runtime alone rejects it afterwards. What decides is each runtime's own state.
 * - JS objects (SlabPool, DescriptorRing, Hub, batches, record types) act only on the runtime
 *   that made them.
 */
import { describe, it, expect } from 'vitest';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import type { Adapter, Hub } from '../build/ts/index.js';
import type { SlabPool } from '../build/ts/pool.js';
import type { DescriptorRing } from '../build/ts/ring.js';
import {
  NdisBugCheck,
  POOL_TAG,
  NDIS_STATUS_SUCCESS,
  NDIS_OBJECT_TYPE_DEFAULT,
  NDIS_OBJECT_TYPE_OPEN_PARAMETERS,
  NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS,
  NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES,
  NDIS_FILTER_CHARACTERISTICS_REVISION_2,
  NormalPoolPriority,
} from '../build/ts/index.js';
import { type Loose, loose, protocolChars, HDR1 } from './helpers.js';
import { KIND } from '../build/ts/ndis/layout.js';

// -- a world: one object of every kind, built the same way in each runtime ---------------------------

const LH1 = { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: 1, Size: 16 };
const TAG = { nb: POOL_TAG('IsoN'), nbD: POOL_TAG('IsoD'), nbl: POOL_TAG('IsoL'), mem: POOL_TAG('IsoM'), gen: POOL_TAG('IsoG'), probe: POOL_TAG('IsoP') };

interface World {
  rt: NdisRuntime;
  prot: number;
  filterDriver: number;
  miniport: number;
  hub: Hub;
  adapter: Adapter;
  adapterHandle: number;
  binding: number;
  module: number;
  nbPool: number;
  nbPoolD: number;
  nblPool: number;
  packetPool: number;
  bufferPool: number;
  nb: number;
  nbD: number;
  nbl: number;
  mem: number;
  mdl: number;
  gen: number;
  packet: number;
  buffer: number;
  ring: DescriptorRing;
  slab: SlabPool;
  slabObj: number;
  gpool: SlabPool;
  gHandle: number;
  /** A skewed world first fills about 2 MiB with these 4 KiB SlabPool objects. */
  skew?: SlabPool;
}

/**
 * Builds the world in `rt`. `skew` first fills about 2 MiB with SlabPool objects, so that every
 * address of an unskewed world falls inside one of them (a different kind of object) in this
 * runtime, and every address of this world is beyond what an unskewed runtime uses.
 */
function buildWorld(rt: NdisRuntime, skew = false): World {
  const r = loose(rt);
  const w = { rt } as World;
  if (skew) {
    w.skew = rt.createSlabPool({ objectSize: 4096, tag: 'Skew' })!;
    for (let i = 0; i < 480; i++) expect(w.skew.alloc()).not.toBe(0);
  }
  const out: Loose = { value: 0 };
  const ok = NDIS_STATUS_SUCCESS;
  // Bindings by ProtocolBindingContext: a probe adapter gets a binding of its own.
  const bindings = new Map<number, number>();
  let nextCtx = 0xb1;
  expect(r.NdisRegisterProtocolDriver(0x51, protocolChars('IsoProt', {
    BindAdapterHandlerEx(_ctx: number, bindContext: object, params: Loose): number {
      const b: Loose = { value: 0 };
      const ctx = nextCtx++;
      const s = r.NdisOpenAdapterEx(w.prot, ctx, {
        Header: { Type: NDIS_OBJECT_TYPE_OPEN_PARAMETERS, Revision: 1, Size: 0x40 }, AdapterName: params.AdapterName,
      }, bindContext, b);
      bindings.set(ctx, b.value);
      if (params.AdapterName === 'iso0') w.binding = b.value;
      return s;
    },
    UnbindAdapterHandlerEx(_unbindContext: object, ctx: number): number {
      // NDIS calls this only for open bindings.
      r.NdisCloseAdapterEx(bindings.get(ctx)!);
      bindings.delete(ctx);
      return ok;
    },
  }), out)).toBe(ok);
  w.prot = out.value;
  expect(r.NdisFRegisterFilterDriver(0, 0x52, {
    Header: { Type: NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS, Revision: NDIS_FILTER_CHARACTERISTICS_REVISION_2, Size: 0x80 },
    MajorNdisVersion: 6, MinorNdisVersion: 20, FriendlyName: 'iso filter', UniqueName: '{iso}', ServiceName: 'iso',
    AttachHandler(fh: number): number {
      w.module = fh;
      return r.NdisFSetAttributes(fh, 0xf1, { Header: { Type: NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES, Revision: 1, Size: 8 }, Flags: 0 });
    },
    DetachHandler: () => void (w.module = 0),
    RestartHandler: () => ok,
    PauseHandler: () => ok,
  }, out)).toBe(ok);
  w.filterDriver = out.value;
  w.miniport = rt.registerVirtualMiniport({ rcbCount: 4, tcbCount: 4 });
  w.hub = rt.createHub('iso')!;
  w.adapter = rt.createAdapter(w.miniport, { name: 'iso0', hub: w.hub })!;
  w.adapterHandle = w.adapter.handle;
  expect(w.adapter.bindings).toEqual([w.binding]);
  expect(w.adapter.filters).toEqual([w.module]);
  w.nbPool = r.NdisAllocateNetBufferPool(w.prot, { Header: HDR1, PoolTag: TAG.nb, DataSize: 0 });
  w.nbPoolD = r.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: TAG.nbD, DataSize: 256 });
  w.nblPool = r.NdisAllocateNetBufferListPool(0, { Header: LH1, ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: TAG.nbl, DataSize: 128 });
  const st: Loose = { value: 0 };
  const h: Loose = { value: 0 };
  r.NdisAllocatePacketPool(st, h, 8, 16);
  w.packetPool = h.value;
  r.NdisAllocateBufferPool(st, h, 8);
  w.bufferPool = h.value;
  w.nb = r.NdisAllocateNetBuffer(w.nbPool, 0, 0, 0);
  w.nbD = r.NdisAllocateNetBufferMdlAndData(w.nbPoolD);
  w.nbl = r.NdisAllocateNetBufferList(w.nblPool, 0, 0);
  w.gen = r.NdisAllocateGenericObject(0, TAG.gen, 32);
  w.mem = r.NdisAllocateMemoryWithTagPriority(w.gen, 512, TAG.mem, NormalPoolPriority);
  w.mdl = r.NdisAllocateMdl(w.gen, w.mem, 100);
  r.NdisAllocatePacket(st, h, w.packetPool);
  w.packet = h.value;
  r.NdisAllocateBuffer(st, h, w.bufferPool, w.mem + 128, 200);
  w.buffer = h.value;
  w.ring = rt.createRing({ capacity: 16, name: 'iso' })!;
  w.slab = rt.createSlabPool({ objectSize: 48, tag: 'IsoS' })!;
  w.slabObj = w.slab.alloc();
  w.gpool = rt.createSlabPool({ objectSize: 48, tag: 'IsoH', handles: 'generational' })!;
  w.gHandle = w.gpool.alloc();
  for (const [k, v] of Object.entries(numbers(w))) expect(v, k).toBeGreaterThan(0);
  return w;
}

/** The world's plain-number handles and objects (what a driver would pass around). */
function numbers(w: World): Record<string, number> {
  return {
    prot: w.prot, filterDriver: w.filterDriver, miniport: w.miniport, adapterHandle: w.adapterHandle, binding: w.binding, module: w.module,
    nbPool: w.nbPool, nbPoolD: w.nbPoolD, nblPool: w.nblPool, packetPool: w.packetPool, bufferPool: w.bufferPool,
    nb: w.nb, nbD: w.nbD, nbl: w.nbl, mem: w.mem, mdl: w.mdl, gen: w.gen, packet: w.packet, buffer: w.buffer,
    ring: w.ring.handle, slab: w.slab.handle, slabObj: w.slabObj, gpool: w.gpool.handle, gHandle: w.gHandle, hub: w.hub.handle,
  };
}

/** Allocates and frees an NB pool owned by `handle` (any live NDIS handle may own pools). */
function ownerProbe(rt: NdisRuntime, handle: number): void {
  const r = loose(rt);
  const p = r.NdisAllocateNetBufferPool(handle, { Header: HDR1, PoolTag: TAG.probe, DataSize: 0 });
  expect(p).not.toBe(0);
  r.NdisFreeNetBufferPool(p);
}

/** The kind of object whose slab holds `v` in `rt` (0: no slab), from up-to-date views. */
function kindAt(rt: NdisRuntime, v: number): number {
  (rt as Loose).sync();
  return rt.kindAt(v);
}

// -- "nothing changed" ---------------------------------------------------------------------------------

/** Everything observable in a runtime: a copy of all of linear memory, poolmon, the driver model. */
interface Snap {
  mem: Buffer;
  meta: string;
}
function snap(rt: NdisRuntime): Snap {
  const mem = Buffer.from(new Uint8Array(rt.memory.buffer).slice());
  const adapters = rt.adapters().map((a) => `${a.name}:${a.state}:${a.bindings}:${a.filters}`);
  return { mem, meta: JSON.stringify([rt.poolmon(), adapters, rt.quarantined()]) };
}
/** `rt` is exactly as in `s` (memory compared byte for byte). */
function expectSame(rt: NdisRuntime, s: Snap, what = 'the runtime changed'): void {
  const now = snap(rt);
  expect(now.meta, what).toBe(s.meta);
  expect(now.mem.length, what).toBe(s.mem.length);
  expect(now.mem.equals(s.mem), `${what}: linear memory differs at byte ${firstDiff(now.mem, s.mem)}`).toBe(true);
}
function firstDiff(a: Buffer, b: Buffer): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** `f` must throw an NdisBugCheck (one of `rules`) and leave every runtime in `rts` as it was. */
function rejected(rts: NdisRuntime[], f: () => unknown, rules: string[] | null): NdisBugCheck {
  const before = rts.map(snap);
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an NdisBugCheck').toBeInstanceOf(NdisBugCheck);
  const b = err as NdisBugCheck;
  if (rules) expect(rules, `${b.message}`).toContain(b.rule);
  rts.forEach((rt, i) => expectSame(rt, before[i]!, `runtime ${i} changed`));
  return b;
}

// -- what each kind is used and released with -------------------------------------------------------

const ORIGIN = ['ORIGIN'];
const DRV = ['DRV-2'];
/** Driver handles: as pool owners they are records of the runtime (ORIGIN), in the driver model DRV-2. */
const HANDLE = ['ORIGIN', 'DRV-2'];

interface Kind {
  name: keyof ReturnType<typeof numbers>;
  /** Uses value `v` in `w.rt` (the other arguments from `w`, that runtime's own world); returns what it saw. */
  use(w: World, v: number): unknown;
  /** Releases the object in `w` (its own). */
  release(w: World): void;
  /** Rules a foreign value gets (from an empty runtime / a skewed one). */
  foreign: string[];
  /** Rules a released value gets in its own runtime. */
  stale: string[];
  /** Numbers only the JS object uses: there is no function to pass the bare number to. */
  jsOnly?: boolean;
  /** What to call to see that a released object is gone, when `use` cannot tell. */
  staleUse?(w: World): unknown;
  /** `use` returns the bytes `mark` wrote. */
  marked?: boolean;
}

const L = (w: World) => loose(w.rt);
const st = () => ({ value: 0 }) as Loose;

const KINDS: Kind[] = [
  {
    name: 'prot', foreign: ORIGIN, stale: ['ALT-POOL', 'ORIGIN'],
    use: (w, v) => ownerProbe(w.rt, v),
    release: (w) => {
      L(w).NdisFreeNetBuffer(w.nb);
      L(w).NdisFreeNetBufferPool(w.nbPool); // it owns this pool (POOL-6 otherwise)
      L(w).NdisDeregisterProtocolDriver(w.prot); // unbinds (closes the binding) first
    },
  },
  {
    name: 'filterDriver', foreign: HANDLE, stale: DRV,
    use: (w, v) => ownerProbe(w.rt, v),
    release: (w) => L(w).NdisFDeregisterFilterDriver(w.filterDriver),
  },
  {
    name: 'miniport', foreign: HANDLE, stale: DRV,
    use: (w, v) => {
      ownerProbe(w.rt, v);
      const a = w.rt.createAdapter(v, { name: 'probe', hub: w.hub })!;
      a.remove();
      return a.state;
    },
    release: (w) => {
      w.adapter.remove();
      L(w).NdisMDeregisterMiniportDriver(w.miniport);
    },
  },
  {
    name: 'adapterHandle', foreign: HANDLE, stale: DRV,
    use: (w, v) => {
      ownerProbe(w.rt, v);
      // Only the adapter's own driver model knows it: its NIC counters.
      return w.rt.nicCounters(v)!.name;
    },
    release: (w) => w.adapter.remove(),
  },
  {
    name: 'binding', foreign: HANDLE, stale: DRV,
    use: (w, v) => {
      ownerProbe(w.rt, v);
      // A send on a running adapter: the virtual NIC completes it at the next DPC.
      const nbl = L(w).NdisAllocateNetBufferList(w.nblPool, 0, 0);
      L(w).NdisSendNetBufferLists(v, nbl, 0, 0);
      w.rt.runDpcs();
      const status = L(w).NET_BUFFER_LIST_STATUS(nbl);
      L(w).NdisFreeNetBufferList(nbl);
      return status;
    },
    release: (w) => L(w).NdisCloseAdapterEx(w.binding),
  },
  {
    name: 'module', foreign: HANDLE, stale: DRV,
    use: (w, v) => {
      ownerProbe(w.rt, v);
      // A filter without send handlers may not originate sends (DRV-3): a live module gets that far.
      try {
        L(w).NdisFSendNetBufferLists(v, w.nbl, 0, 0);
      } catch (e) {
        return (e as NdisBugCheck).rule;
      }
      return 'sent';
    },
    release: (w) => L(w).NdisFDeregisterFilterDriver(w.filterDriver),
  },
  {
    name: 'nbPool', foreign: ORIGIN, stale: ['ALT-POOL'],
    use: (w, v) => {
      const nb = L(w).NdisAllocateNetBuffer(v, 0, 0, 0);
      L(w).NdisFreeNetBuffer(nb);
      return L(w).NdisGetPoolFromNetBuffer(w.nb);
    },
    release: (w) => {
      L(w).NdisFreeNetBuffer(w.nb);
      L(w).NdisFreeNetBufferPool(w.nbPool);
    },
  },
  {
    name: 'nbPoolD', foreign: ORIGIN, stale: ['ALT-POOL'],
    use: (w, v) => {
      const nb = L(w).NdisAllocateNetBufferMdlAndData(v);
      const len = L(w).NET_BUFFER_DATA_LENGTH(nb);
      L(w).NdisFreeNetBuffer(nb);
      return len;
    },
    release: (w) => {
      L(w).NdisFreeNetBuffer(w.nbD);
      L(w).NdisFreeNetBufferPool(w.nbPoolD);
    },
  },
  {
    name: 'nblPool', foreign: ORIGIN, stale: ['ALT-POOL'],
    use: (w, v) => {
      const nbl = L(w).NdisAllocateNetBufferList(v, 0, 0);
      const pool = L(w).NdisGetPoolFromNetBufferList(nbl);
      L(w).NdisFreeNetBufferList(nbl);
      return pool === v;
    },
    release: (w) => {
      L(w).NdisFreeNetBufferList(w.nbl);
      L(w).NdisFreeNetBufferListPool(w.nblPool);
    },
  },
  {
    name: 'packetPool', foreign: ['ORIGIN', 'ALT-POOL'], stale: ['ALT-POOL'],
    use: (w, v) => {
      const s = st(), p = st();
      L(w).NdisAllocatePacket(s, p, v);
      L(w).NdisFreePacket(p.value);
      return L(w).NdisPacketPoolUsage(v);
    },
    release: (w) => {
      L(w).NdisFreePacket(w.packet);
      L(w).NdisFreePacketPool(w.packetPool);
    },
  },
  {
    name: 'bufferPool', foreign: ['ORIGIN', 'ALT-POOL'], stale: ['ALT-POOL'],
    use: (w, v) => {
      const s = st(), b = st();
      L(w).NdisAllocateBuffer(s, b, v, w.mem, 8);
      L(w).NdisFreeBuffer(b.value);
      return s.value;
    },
    release: (w) => L(w).NdisFreeBufferPool(w.bufferPool),
  },
  {
    name: 'nb', marked: true, foreign: ORIGIN, stale: ['ALT-NB'],
    use: (w, v) => [L(w).NET_BUFFER_DATA_LENGTH(v), w.rt.bytes(L(w).NET_BUFFER_PROTOCOL_RESERVED(v), 8).join()],
    release: (w) => L(w).NdisFreeNetBuffer(w.nb),
  },
  {
    name: 'nbD', marked: true, foreign: ORIGIN, stale: ['ALT-NB'],
    use: (w, v) => {
      expect(L(w).NdisRetreatNetBufferDataStart(v, 16, 0)).toBe(NDIS_STATUS_SUCCESS);
      L(w).NdisAdvanceNetBufferDataStart(v, 16, true);
      return [L(w).NET_BUFFER_DATA_LENGTH(v), w.rt.bytes(L(w).NET_BUFFER_PROTOCOL_RESERVED(v), 8).join()];
    },
    release: (w) => L(w).NdisFreeNetBuffer(w.nbD),
  },
  {
    name: 'nbl', marked: true, foreign: ORIGIN, stale: ['ALT-NBL'],
    use: (w, v) => [L(w).NET_BUFFER_LIST_FIRST_NB(v), w.rt.bytes(L(w).NET_BUFFER_LIST_PROTOCOL_RESERVED(v), 8).join()],
    release: (w) => L(w).NdisFreeNetBufferList(w.nbl),
  },
  {
    name: 'mem', marked: true, foreign: ['PARAM', 'ORIGIN'], stale: ['PARAM'],
    use: (w, v) => {
      const m = L(w).NdisAllocateMdl(w.gen, v, 8); // must lie in a live allocation of this runtime
      L(w).NdisFreeMdl(m);
      return w.rt.bytes(v, 8).join();
    },
    release: (w) => {
      L(w).NdisFreeMdl(w.mdl);
      L(w).NdisFreeBuffer(w.buffer);
      L(w).NdisFreeMemoryWithTagPriority(w.gen, w.mem, TAG.mem);
    },
  },
  {
    name: 'mdl', foreign: ORIGIN, stale: ['ALT-MDL'],
    use: (w, v) => [L(w).MmGetMdlByteCount(v), L(w).MmGetMdlVirtualAddress(v)],
    release: (w) => L(w).NdisFreeMdl(w.mdl),
  },
  {
    name: 'gen', marked: true, foreign: ORIGIN, stale: ['ALT-GEN', 'ORIGIN'],
    use: (w, v) => {
      ownerProbe(w.rt, v);
      return w.rt.bytes(v + 16, 8).join();
    },
    release: (w) => {
      L(w).NdisFreeMdl(w.mdl);
      L(w).NdisFreeBuffer(w.buffer);
      L(w).NdisFreeMemoryWithTagPriority(w.gen, w.mem, TAG.mem);
      L(w).NdisFreeGenericObject(w.gen);
    },
  },
  {
    name: 'packet', marked: true, foreign: ['PKT-1'], stale: ['PKT-1'],
    use: (w, v) => [L(w).NdisGetPoolFromPacket(v), w.rt.bytes(L(w).NDIS_PACKET_PROTOCOL_RESERVED(v), 8).join()],
    release: (w) => L(w).NdisFreePacket(w.packet),
  },
  {
    name: 'buffer', foreign: ORIGIN, stale: ['ALT-MDL'],
    use: (w, v) => {
      L(w).NdisChainBufferAtBack(w.packet, v);
      const b = st();
      L(w).NdisUnchainBufferAtFront(w.packet, b);
      return [b.value, L(w).NdisBufferLength(v)];
    },
    release: (w) => L(w).NdisFreeBuffer(w.buffer),
  },
  {
    name: 'slabObj', marked: true, foreign: ['ORIGIN', 'ALT-POOL'], stale: ['ALT-POOL'],
    use: (w, v) => w.slab.bytes(v).slice(0, 8).join(),
    release: (w) => w.slab.free(w.slabObj),
  },
  {
    name: 'gHandle', marked: true, foreign: ['ORIGIN', 'ALT-POOL'], stale: ['ALT-POOL'],
    use: (w, v) => w.gpool.bytes(v).slice(0, 8).join(),
    release: (w) => w.gpool.free(w.gHandle),
  },
  // JS objects: their numbers go to no function; each object works on its own runtime only.
  {
    name: 'ring', foreign: [], stale: ['ALT-POOL'], jsOnly: true,
    use: (w) => {
      const d = new Uint32Array([1, 2, 3, 4, 5]);
      expect(w.ring.enqueueBurst(d)).toBe(1);
      d.fill(0);
      expect(w.ring.dequeueBurst(d)).toBe(1);
      return [...d];
    },
    release: (w) => w.ring.destroy(),
  },
  {
    name: 'slab', foreign: [], stale: ['ALT-POOL'], jsOnly: true,
    use: (w) => {
      const p = w.slab.alloc();
      w.slab.free(p);
      return w.slab.stats().outstanding;
    },
    release: (w) => w.slab.destroy({ force: true }),
  },
  {
    name: 'gpool', foreign: [], stale: ['ALT-POOL'], jsOnly: true,
    use: (w) => {
      const h = w.gpool.alloc();
      w.gpool.free(h);
      return w.gpool.stats().outstanding;
    },
    release: (w) => w.gpool.destroy({ force: true }),
  },
  {
    name: 'hub', foreign: [], stale: ['DRV-2'], jsOnly: true,
    use: (w) => w.hub.counters().map((c) => c.name),
    staleUse: (w) => w.hub.destroy(), // a second destroy
    release: (w) => {
      w.adapter.remove();
      w.hub.destroy();
    },
  },
];

/** Writes a per-runtime byte pattern into the caller-owned areas of the world's objects. */
function mark(w: World, byte: number): void {
  const r = loose(w.rt);
  for (const a of [
    r.NET_BUFFER_PROTOCOL_RESERVED(w.nb), r.NET_BUFFER_PROTOCOL_RESERVED(w.nbD), r.NET_BUFFER_LIST_PROTOCOL_RESERVED(w.nbl),
    r.NDIS_PACKET_PROTOCOL_RESERVED(w.packet), w.mem, w.gen + 16,
  ]) w.rt.bytes(a, 8).fill(byte);
  w.slab.bytes(w.slabObj).fill(byte);
  w.gpool.bytes(w.gHandle).fill(byte);
}

// -- the tests ---------------------------------------------------------------------------------------

describe('the same sequence in two runtimes gives the same numbers', () => {
  it('every handle and object address coincides (so the tests below really pass live addresses across)', () => {
    const a = buildWorld(createRuntimeSync());
    const b = buildWorld(createRuntimeSync());
    expect(numbers(b)).toEqual(numbers(a));
    expect(new Set(Object.values(numbers(a))).size).toBe(Object.keys(numbers(a)).length);
  });
});

describe('a value of one runtime where the other has nothing at that address: a bug check, nothing changes', () => {
  // a's world is built above 2 MiB of filler; the other runtime's (valid arguments of its own
  // for the other parameters) stays below, so none of a's addresses is in any slab there.
  const a = buildWorld(createRuntimeSync(), true);
  const e = buildWorld(createRuntimeSync());
  it("none of a's addresses is in a slab of the other runtime", () => {
    for (const k of KINDS.filter((x) => !x.jsOnly)) expect(kindAt(e.rt, numbers(a)[k.name]!), k.name).toBe(0);
  });
  for (const k of KINDS.filter((x) => !x.jsOnly && x.name !== 'gHandle')) {
    it(k.name, () => {
      const v = numbers(a)[k.name]!;
      const b = rejected([a.rt, e.rt], () => k.use(e, v), k.foreign);
      // Pointer arguments are "not from this runtime" (0x42); handles are not live handles.
      if (b.code === 0xc2) expect(b.parameters[0]).toBe(0x42);
    });
  }
});

describe('a value of one runtime where the other has a different object (same world, laid out elsewhere): a bug check, nothing changes', () => {
  const a = buildWorld(createRuntimeSync());
  const c = buildWorld(createRuntimeSync(), true);
  it("every address of a is inside some object of the other runtime, none is one of its objects", () => {
    const nc = Object.values(numbers(c));
    for (const [key, v] of Object.entries(numbers(a))) {
      if (key === 'gHandle') continue; // not an address
      expect(kindAt(c.rt, v), key).not.toBe(0);
      // (a's SlabPool object lies inside one of c's filler SlabPool objects: same kind, not a start.)
      if (key !== 'slabObj') expect(kindAt(c.rt, v), key).not.toBe(kindAt(a.rt, v));
      expect(nc, key).not.toContain(v);
    }
  });
  for (const k of KINDS.filter((x) => !x.jsOnly && x.name !== 'mem' && x.name !== 'gHandle')) {
    it(`${k.name} (and the other runtime's own ${k.name} still works)`, () => {
      const v = numbers(a)[k.name]!;
      // Any bug check: mostly ORIGIN 0x46 (another kind / inside an object); a free slot of
      // another kind's slab is reported as that kind's use-after-free (ALT-*, 0x07).
      rejected([a.rt, c.rt], () => k.use(c, v), null);
      k.use(c, numbers(c)[k.name]!); // its own value is fine
    });
  }
  it("mem: a's block address lies inside one of c's live SlabPool objects, so for c it is c's memory (addresses are plain numbers)", () => {
    const v = a.mem;
    expect(kindAt(c.rt, v)).toBe(KIND.SLAB_OBJ);
    const before = snap(a.rt);
    KINDS.find((k) => k.name === 'mem')!.use(c, v); // an MDL over c's memory: allowed
    expectSame(a.rt, before);
    // Freeing it as a block is still a bug check: it is not the start of a block in c.
    rejected([a.rt, c.rt], () => loose(c.rt).NdisFreeMemoryWithTagPriority(c.gen, v, TAG.mem), ['ORIGIN']);
  });
});

describe('identical addresses: each runtime decides by its own state', () => {
  for (const k of KINDS) {
    it(`${k.name}: released in one runtime, the other's object at the same address stays live and its own`, () => {
      const a = buildWorld(createRuntimeSync());
      const b = buildWorld(createRuntimeSync());
      const v = numbers(a)[k.name]!;
      expect(numbers(b)[k.name]).toBe(v);
      mark(a, 0xaa);
      mark(b, 0xbb);
      // Before: both accept the number, each seeing its own object.
      const seenA = k.use(a, v);
      const seenB = k.use(b, v);
      const bBefore = snap(b.rt);
      k.release(a);
      // b did not change at all…
      expectSame(b.rt, bBefore);
      // …still accepts the number and sees exactly what it saw before (its own object, its own bytes)…
      expect(k.use(b, v)).toEqual(seenB);
      if (k.marked) {
        expect(JSON.stringify(seenA)).toContain('170,170,170'); // a's mark (0xAA)
        expect(JSON.stringify(seenB)).toContain('187,187,187'); // b's mark (0xBB)
      }
      // …while a rejects it now.
      const stale = (w: World) => (k.staleUse ? k.staleUse(w) : k.use(w, v));
      rejected([a.rt, b.rt], () => stale(a), k.stale.concat(k.jsOnly ? [] : ['ORIGIN', 'DRV-2', 'PARAM']));
      // And the other way round: releasing b's makes b reject it too.
      k.release(b);
      rejected([a.rt, b.rt], () => stale(b), k.stale.concat(k.jsOnly ? [] : ['ORIGIN', 'DRV-2', 'PARAM']));
    });
  }
});

// -- JS objects of one runtime used with another --------------------------------------------------------

describe("JS objects act on their own runtime only", () => {
  it("a Hub of one runtime is a PARAM bug check in the other's createAdapter; neither runtime's objects change", () => {
    const a = buildWorld(createRuntimeSync());
    const b = buildWorld(createRuntimeSync());
    const aBefore = snap(a.rt);
    const bBefore = snap(b.rt);
    let err: unknown;
    try {
      b.rt.createAdapter(b.miniport, { name: 'x', hub: a.hub });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NdisBugCheck);
    expect((err as NdisBugCheck).rule).toBe('PARAM');
    expect((err as NdisBugCheck).argument).toBe('options.hub');
    expectSame(a.rt, aBefore);
    // b: the same live objects and poolmon. (Its memory is not byte-identical: createAdapter
    // allocated the adapter's handle record before MiniportInitializeEx rejected the hub and
    // freed it again, which moves the internal handle pool's counters.)
    expect(snap(b.rt).meta).toBe(bBefore.meta);
    expect(b.rt.adapters().map((x) => x.name)).toEqual(['iso0']);
    expect(a.hub.counters().map((c) => c.name)).toEqual(['iso0']);
    expect(b.hub.counters().map((c) => c.name)).toEqual(['iso0']);
  });

  // Regression test for a bug fixed since (src/ndis/driver.ts createAdapter: `const n = ++m.adapterSerial` runs before anything
  // can fail): README "Errors" says that after a throw every counter is exactly as before the
  // call, but a createAdapter that throws (here: another runtime's hub) still uses up an
  // adapter number, so the next adapter's IfIndex and default MAC address (02-00-00-00-00-nn)
  // differ from those of the same sequence without the failed call.
  it('a createAdapter that throws does not use up an adapter number (IfIndex, default MAC address)', () => {
    const a = buildWorld(createRuntimeSync());
    const b = buildWorld(createRuntimeSync());
    const c = buildWorld(createRuntimeSync());
    expect(() => b.rt.createAdapter(b.miniport, { name: 'x', hub: a.hub })).toThrow(NdisBugCheck);
    const next = b.rt.createAdapter(b.miniport, { name: 'iso1', hub: b.hub })!;
    const same = c.rt.createAdapter(c.miniport, { name: 'iso1', hub: c.hub })!;
    expect(next.macAddress).toEqual(same.macAddress);
  });

  it("a SlabPool frees in its own runtime only: the other runtime's object at the same address is untouched", () => {
    const a = buildWorld(createRuntimeSync());
    const b = buildWorld(createRuntimeSync());
    expect(b.slabObj).toBe(a.slabObj);
    mark(b, 0xbb);
    const bBefore = snap(b.rt);
    a.slab.free(a.slabObj); // a's pool, a's object
    expectSame(b.rt, bBefore);
    expect(b.slab.stats().outstanding).toBe(1);
    expect(b.slab.bytes(b.slabObj).every((x) => x === 0xbb)).toBe(true);
    // a's pool rejects the address now; b's pool frees its own.
    rejected([a.rt, b.rt], () => a.slab.free(a.slabObj), ['ALT-POOL']);
    b.slab.free(a.slabObj);
    expect(b.slab.stats().outstanding).toBe(0);
    // An address where the other runtime's pool has nothing: bug check, nothing changes.
    const empty = createRuntimeSync();
    const pool = empty.createSlabPool({ objectSize: 48, tag: 'IsoS' })!;
    rejected([a.rt, empty], () => pool.free(a.gHandle), ['ORIGIN']);
    rejected([a.rt, empty], () => pool.bytes(a.slabObj), ['ORIGIN']);
  });

  // Observed limitation: a generational handle is generation << indexBits | index, local to its
  // pool. Every pool starts at the same index and generation, so a handle of another pool (of
  // this runtime or another) is indistinguishable from one this pool issued when the same
  // (index, generation) is live here; it is caught only when it is not.
  it('a generational handle of another runtime names whatever this pool has under the same (index, generation)', () => {
    const a = createRuntimeSync();
    const b = createRuntimeSync();
    const pa = a.createSlabPool({ objectSize: 16, tag: 'GhaX', handles: 'generational' })!;
    const pb = b.createSlabPool({ objectSize: 16, tag: 'GhbX', handles: 'generational' })!;
    const ha = [pa.alloc(), pa.alloc(), pa.alloc()];
    const hb = pb.alloc();
    expect(hb).toBe(ha[0]); // the same number in both pools
    pb.bytes(hb).fill(0xbb);
    pa.bytes(ha[0]!).fill(0xaa);
    expect([...pb.bytes(ha[0]!)].every((x) => x === 0xbb)).toBe(true); // b's own object
    // Handles b never issued (indices 2 and 3): a bug check, nothing changes in either runtime.
    for (const h of ha.slice(1)) {
      rejected([a, b], () => pb.bytes(h), ['ORIGIN']);
      rejected([a, b], () => pb.free(h), ['ORIGIN']);
    }
    // Freed in a, still live in b; stale in a only.
    pa.free(ha[0]!);
    expect(pb.ptr(ha[0]!)).toBe(pb.ptr(hb));
    rejected([a, b], () => pa.free(ha[0]!), ['ALT-POOL']);
    pb.free(hb);
    rejected([a, b], () => pb.free(hb), ['ALT-POOL']);
  });

  it("a generational handle is checked against the pool's own table: the other runtime's freed handle stays live here", () => {
    const a = buildWorld(createRuntimeSync());
    const b = buildWorld(createRuntimeSync());
    expect(b.gHandle).toBe(a.gHandle);
    a.gpool.free(a.gHandle);
    expect(b.gpool.ptr(a.gHandle)).toBe(b.gpool.ptr(b.gHandle));
    rejected([a.rt, b.rt], () => a.gpool.ptr(a.gHandle), ['ALT-POOL']);
    // A handle the other pool never issued.
    const c = createRuntimeSync().createSlabPool({ objectSize: 48, handles: 'generational' })!;
    expect(() => c.ptr(a.gHandle)).toThrow(NdisBugCheck);
    expect(() => c.free(a.gHandle)).toThrow(NdisBugCheck);
  });

  it("a u32Batch of one runtime is a plain array to the other: copied, never used in place", () => {
    const a = createRuntimeSync();
    const b = createRuntimeSync();
    const batchA = a.u32Batch(64);
    const batchB = b.u32Batch(64);
    expect(batchB.byteOffset).toBe(batchA.byteOffset); // the same address in both memories
    const pool = b.createSlabPool({ objectSize: 32 })!;
    const aBefore = snap(a);
    const got = pool.allocMany(batchA);
    expect(got).toBe(64);
    // b's addresses landed in a's array (the caller's out array), not in b's memory at that address.
    expect(batchB.every((x) => x === 0)).toBe(true);
    const ptrs = [...batchA];
    expect(new Set(ptrs).size).toBe(64);
    for (const p of ptrs) expect(pool.bytes(p).length).toBe(32);
    pool.freeMany(batchA);
    expect(pool.stats().outstanding).toBe(0);
    // Only the array's bytes changed in a.
    batchA.fill(0);
    expectSame(a, aBefore);
    // A ring of b dequeues into a's batch by copy as well.
    const ring = b.createRing({ capacity: 8 })!;
    batchB.set([7, 8, 9, 10, 11]);
    expect(ring.enqueueBurst(batchB, 1)).toBe(1);
    batchB.fill(0);
    expect(ring.dequeueBurst(batchA, 1)).toBe(1);
    expect([...batchA.subarray(0, 5)]).toEqual([7, 8, 9, 10, 11]);
    expect(batchB.every((x) => x === 0)).toBe(true);
  });

  // Regression test for a bug fixed since (src/pool.ts createSlabPool, src/record.ts): a record type is bound to the runtime that
  // defined it (its accessors read and write that runtime's memory), yet another runtime's
  // createSlabPool accepts it. The natural use — `Rec.fields.x.set(pool.alloc(), v)` — then writes
  // runtime B's object address into runtime A's memory, silently overwriting whatever A has there
  // (here a live SlabPool object of A). Expected: PARAM, as createAdapter does for a foreign hub.
  it("a record type of one runtime is rejected by the other's createSlabPool (its accessors write the first runtime's memory)", () => {
    const a = createRuntimeSync();
    const b = createRuntimeSync();
    const recA = a.defineRecord({ x: 'u32', y: 'u32' });
    const poolA = a.createSlabPool({ record: recA, tag: 'RecA' })!;
    const objA = poolA.alloc();
    recA.fields.x.set(objA, 111);
    let poolB: SlabPool | null = null;
    let err: unknown;
    try {
      poolB = b.createSlabPool({ record: recA, tag: 'RecA' });
    } catch (e) {
      err = e;
    }
    if (poolB) {
      // What the API invites: the same sequence made objB === objA, and A's object is overwritten.
      const objB = poolB.alloc();
      recA.fields.x.set(objB, 222);
      expect(objB).toBe(objA);
      expect(recA.fields.x.get(objA), "runtime A's live object was overwritten through runtime B's pool").toBe(111);
    }
    expect(err, "createSlabPool accepted another runtime's record type").toBeInstanceOf(NdisBugCheck);
  });
});

describe('reset() and teardown of one runtime leave the other intact', () => {
  it("after a.reset(), a rejects every number; b's identical objects all still work", () => {
    const a = buildWorld(createRuntimeSync());
    const b = buildWorld(createRuntimeSync());
    mark(b, 0xbb);
    const seen = new Map(KINDS.map((k) => [k.name, k.use(b, numbers(b)[k.name]!)]));
    const bBefore = snap(b.rt);
    a.rt.reset();
    expectSame(b.rt, bBefore);
    for (const k of KINDS) {
      expect(() => (k.staleUse ? k.staleUse(a) : k.use(a, numbers(a)[k.name]!)), k.name).toThrow(NdisBugCheck);
      expect(k.use(b, numbers(b)[k.name]!), k.name).toEqual(seen.get(k.name));
    }
  });
});
