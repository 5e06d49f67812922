/**
 * NDIS-SPEC §7 rules TIME-SEND, OWN-3 and BUF-1 (verifier mode):
 *
 * - TIME-SEND (Driver Verifier NdisTimedDataSend 0x9200D / NdisTimedDataHang 0x9200F): a miniport
 *   completes each send within 30 s and, with sends pending, one at least every 22 s, by the
 *   runtime's clock (a virtual clock here: nothing sleeps).
 * - OWN-3: a driver that did not create an NBL hands it on with the NET_BUFFER chain its creator
 *   gave it.
 * - BUF-1: lower drivers chain to NDIS 5 packets only buffers from NdisAllocateBuffer; only a
 *   highest-level protocol may chain OS MDLs.
 *
 * Each violation is a bug check with its rule, code and parameters that changes nothing
 * observable; correct use (edge cases included) raises nothing, and a normal runtime checks none
 * of them.
 */
import { describe, it, expect } from 'vitest';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import type { Adapter } from '../build/ts/index.js';
import {
  NdisBugCheck,
  RULE_P1,
  NDIS_TIMED_DATA_SEND,
  NDIS_TIMED_DATA_HANG,
  BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION,
  BUGCODE_NDIS_DRIVER,
  POOL_TAG,
  NDIS_STATUS_SUCCESS,
  NDIS_STATUS_PAUSED,
  NDIS_OBJECT_TYPE_DEFAULT,
  NDIS_OBJECT_TYPE_OPEN_PARAMETERS,
  NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS,
  NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS,
  NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES,
  NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
  NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
  NDIS_FILTER_CHARACTERISTICS_REVISION_2,
  NDIS_RECEIVE_FLAGS_RESOURCES,
  NormalPoolPriority,
} from '../build/ts/index.js';
import { type Loose, type Expect, loose, protocolChars, expectBug, bugCheck, HDR1 } from './helpers.js';

const C4 = BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION;
const PAGE = 65536;

// -- a small driver world --------------------------------------------------------------------------

/** Hooks a test sets to make a driver misbehave (or do something) inside its handlers. */
interface Hooks {
  /** Filter: before passing sends down. */
  filterSend?: (nbls: number[]) => void;
  /** Filter: before passing send completions up. */
  filterSendComplete?: (nbls: number[]) => void;
  /** Filter: before passing receives up; return true to drop them (NdisFReturnNetBufferLists). */
  filterReceive?: (nbls: number[], flags: number) => boolean | void;
  /** Filter: before passing returns down. */
  filterReturn?: (nbls: number[]) => void;
  /** Filter: inside FilterRestart (runs on adapter.restart()). */
  filterRestart?: () => void;
  /** Protocol: inside ProtocolReceiveNetBufferLists. */
  protocolReceive?: (nbls: number[], flags: number) => void;
  /** Protocol (intermediate driver's edge): inside its ProtocolReceiveNetBufferLists. */
  imReceive?: (nbls: number[], flags: number) => void;
  /** Miniport: inside MiniportRestart (runs on adapter.restart()). */
  miniportRestart?: () => void;
}

interface WorldOptions {
  verifier?: boolean;
  /** Register a pass-through filter (default true). */
  filter?: boolean;
  /** Adapters to create (default 1). */
  adapters?: number;
}

function world(o: WorldOptions = {}) {
  const verifier = o.verifier ?? true;
  const rt: NdisRuntime = createRuntimeSync({ verifier, maxMemory: 32 << 20 });
  const r: Loose = loose(rt);
  const clock = { now: 0, reads: 0 };
  rt.clock = () => {
    clock.reads++;
    return clock.now;
  };
  const hooks: Hooks = {};
  const list = (head: number): number[] => [...rt.nblChain(head as Loose)] as number[];
  const link = (nbls: readonly number[]): number => {
    for (let i = 0; i < nbls.length; i++) r.NET_BUFFER_LIST_NEXT_NBL_SET(nbls[i], i + 1 < nbls.length ? nbls[i + 1] : 0);
    return nbls[0] ?? 0;
  };
  const nblPool = (handle: number, tag: string) => {
    const p = r.NdisAllocateNetBufferListPool(handle, {
      Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: 1, Size: 16 },
      ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: POOL_TAG(tag), DataSize: 0,
    });
    expect(p).toBeGreaterThanOrEqual(PAGE);
    return p as number;
  };
  /** An NBL with one preallocated NET_BUFFER. */
  const nblWithNb = (pool: number): number => {
    const n = r.NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, 0, 0, 0);
    expect(n).toBeGreaterThanOrEqual(PAGE);
    return n;
  };
  const nbPool = r.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: POOL_TAG('xNB '), DataSize: 0 }) as number;
  /** A NET_BUFFER of no data (for making and editing chains). */
  const nb = (): number => r.NdisAllocateNetBuffer(nbPool, 0, 0, 0);
  /** The NET_BUFFERs of an NBL, in order. */
  const nbsOf = (nbl: number): number[] => {
    const out: number[] = [];
    for (let p = r.NET_BUFFER_LIST_FIRST_NB(nbl); p !== 0; p = r.NET_BUFFER_NEXT_NB(p)) out.push(p);
    return out;
  };
  /** Appends a fresh NET_BUFFER to `nbl` (its creator may; OWN-3 for anyone else). */
  const appendNb = (nbl: number): number => {
    const x = nb();
    const nbs = nbsOf(nbl);
    if (nbs.length) r.NET_BUFFER_NEXT_NB_SET(nbs[nbs.length - 1], x);
    else r.NET_BUFFER_LIST_FIRST_NB_SET(nbl, x);
    return x;
  };

  // -- miniport: holds sends until told to complete them; 4 receive NBLs per adapter.
  interface MpAdapter { ctx: number; handle: number; pool: number; rx: number[]; free: Set<number>; sent: number[] }
  const byCtx = new Map<number, MpAdapter>();
  let nextCtx = 0x100;
  const at = (ctx: number) => byCtx.get(ctx)!;
  const mpChars: Loose = {
    Header: { Type: NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS, Revision: NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2, Size: 0x7c },
    MajorNdisVersion: 6,
    MinorNdisVersion: 20,
    InitializeHandlerEx(h: number): number {
      const pool = nblPool(h, 'mpRx');
      const rx = [nblWithNb(pool), nblWithNb(pool), nblWithNb(pool), nblWithNb(pool)];
      const ctx = nextCtx++;
      r.NdisMSetMiniportAttributes(h, { Header: { Type: NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, Revision: 1, Size: 0x18 }, MiniportAdapterContext: ctx });
      byCtx.set(ctx, { ctx, handle: h, pool, rx, free: new Set(rx), sent: [] });
      return NDIS_STATUS_SUCCESS;
    },
    HaltHandlerEx(ctx: number): void {
      const a = at(ctx);
      for (const n of a.rx) r.NdisFreeNetBufferList(n);
      r.NdisFreeNetBufferListPool(a.pool);
    },
    PauseHandler: () => NDIS_STATUS_SUCCESS,
    RestartHandler(): number {
      hooks.miniportRestart?.();
      return NDIS_STATUS_SUCCESS;
    },
    SendNetBufferListsHandler(ctx: number, head: number): void {
      at(ctx).sent.push(...list(head));
    },
    ReturnNetBufferListsHandler(ctx: number, head: number): void {
      for (const n of list(head)) at(ctx).free.add(n);
    },
    CancelSendHandler: () => undefined,
  };
  const mpOut: Loose = { value: 0 };
  expect(r.NdisMRegisterMiniportDriver(0, 'mp', 0, mpChars, mpOut)).toBe(NDIS_STATUS_SUCCESS);
  const mpHandle = mpOut.value as number;

  // -- filter: passes everything on (after the hooks).
  interface FModule { handle: number; adapterName: string }
  const modules = new Map<number, FModule>();
  let fCtx = 0x500;
  let filterHandle = 0;
  if (o.filter ?? true) {
    const fChars: Loose = {
      Header: { Type: NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS, Revision: NDIS_FILTER_CHARACTERISTICS_REVISION_2, Size: 0x80 },
      MajorNdisVersion: 6,
      MinorNdisVersion: 20,
      FriendlyName: 'pass filter',
      UniqueName: '{pass}',
      ServiceName: 'pass',
      AttachHandler(fh: number, _d: number, params: Loose): number {
        const ctx = fCtx++;
        r.NdisFSetAttributes(fh, ctx, { Header: { Type: NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES, Revision: 1, Size: 8 }, Flags: 0 });
        modules.set(ctx, { handle: fh, adapterName: params.BaseMiniportName });
        return NDIS_STATUS_SUCCESS;
      },
      DetachHandler: () => undefined,
      RestartHandler(): number {
        hooks.filterRestart?.();
        return NDIS_STATUS_SUCCESS;
      },
      PauseHandler: () => NDIS_STATUS_SUCCESS,
      SendNetBufferListsHandler(ctx: number, head: number, port: number, flags: number): void {
        hooks.filterSend?.(list(head));
        r.NdisFSendNetBufferLists(modules.get(ctx)!.handle, head, port, flags);
      },
      SendNetBufferListsCompleteHandler(ctx: number, head: number, flags: number): void {
        const m = modules.get(ctx)!;
        const nbls = list(head);
        hooks.filterSendComplete?.(nbls);
        const own = nbls.filter((n) => r.NET_BUFFER_LIST_SOURCE_HANDLE(n) === m.handle);
        const others = nbls.filter((n) => r.NET_BUFFER_LIST_SOURCE_HANDLE(n) !== m.handle);
        filterOwnCompleted.push(...own);
        if (others.length) r.NdisFSendNetBufferListsComplete(m.handle, link(others), flags);
      },
      ReceiveNetBufferListsHandler(ctx: number, head: number, port: number, count: number, flags: number): void {
        const m = modules.get(ctx)!;
        if (hooks.filterReceive?.(list(head), flags)) r.NdisFReturnNetBufferLists(m.handle, head, 0);
        else r.NdisFIndicateReceiveNetBufferLists(m.handle, head, port, count, flags);
      },
      ReturnNetBufferListsHandler(ctx: number, head: number, flags: number): void {
        hooks.filterReturn?.(list(head));
        r.NdisFReturnNetBufferLists(modules.get(ctx)!.handle, head, flags);
      },
    };
    const fOut: Loose = { value: 0 };
    expect(r.NdisFRegisterFilterDriver(0, 0xf1, fChars, fOut)).toBe(NDIS_STATUS_SUCCESS);
    filterHandle = fOut.value;
  }
  const filterOwnCompleted: number[] = [];

  // -- protocol: holds receives (unless RESOURCES), records completions.
  interface PBinding { ctx: number; handle: number; adapterName: string; pool: number; held: number[]; completed: number[] }
  const bindings = new Map<number, PBinding>();
  let bCtx = 0x10;
  const pOut: Loose = { value: 0 };
  const pChars = protocolChars('P', {
    BindAdapterHandlerEx(_pctx: number, bindContext: object, params: Loose): number {
      const ctx = bCtx++;
      const out: Loose = { value: 0 };
      expect(r.NdisOpenAdapterEx(pOut.value, ctx, { Header: { Type: NDIS_OBJECT_TYPE_OPEN_PARAMETERS, Revision: 1, Size: 0x40 }, AdapterName: params.AdapterName }, bindContext, out)).toBe(NDIS_STATUS_SUCCESS);
      bindings.set(ctx, { ctx, handle: out.value, adapterName: params.AdapterName, pool: nblPool(pOut.value, 'Ptx '), held: [], completed: [] });
      return NDIS_STATUS_SUCCESS;
    },
    ReceiveNetBufferListsHandler(ctx: number, head: number, _port: number, _count: number, flags: number): void {
      const nbls = list(head);
      hooks.protocolReceive?.(nbls, flags);
      if ((flags & NDIS_RECEIVE_FLAGS_RESOURCES) === 0) bindings.get(ctx)!.held.push(...nbls);
    },
    SendNetBufferListsCompleteHandler(ctx: number, head: number): void {
      bindings.get(ctx)!.completed.push(...list(head));
    },
  });
  expect(r.NdisRegisterProtocolDriver(0xc1, pChars, pOut)).toBe(NDIS_STATUS_SUCCESS);

  const adapters: Adapter[] = [];
  for (let i = 0; i < (o.adapters ?? 1); i++) {
    const a = rt.createAdapter(mpHandle, { name: `eth${i}` })!;
    expect(a).not.toBeNull();
    adapters.push(a);
  }
  const mpOf = (a: Adapter) => at(a.context);
  const binding = (a: Adapter) => [...bindings.values()].find((b) => b.adapterName === a.name)!;
  const moduleOf = (a: Adapter) => [...modules.values()].find((m) => m.adapterName === a.name)!;

  const w = {
    rt, r, clock, hooks, adapters, mpHandle, filterHandle, filterOwnCompleted, nb, nbsOf, appendNb, nblWithNb, link, list,
    mpOf, binding, moduleOf,
    /** The protocol sends `count` fresh NBLs (one NB each; `extraNbs` more NBs appended) on adapter `a`. */
    send(a: Adapter, count = 1, extraNbs = 0): number[] {
      const b = binding(a);
      const nbls = Array.from({ length: count }, () => {
        const n = nblWithNb(b.pool);
        for (let i = 0; i < extraNbs; i++) appendNb(n);
        return n;
      });
      r.NdisSendNetBufferLists(b.handle, link(nbls), 0, 0);
      return nbls;
    },
    /** The miniport completes `nbls` (default: everything it holds). */
    complete(a: Adapter, nbls?: number[]): void {
      const m = mpOf(a);
      const done = nbls ?? [...m.sent];
      for (const n of done) r.NET_BUFFER_LIST_STATUS_SET(n, NDIS_STATUS_SUCCESS);
      r.NdisMSendNetBufferListsComplete(m.handle, link(done), 0);
      m.sent = m.sent.filter((n) => !done.includes(n));
    },
    /** The miniport indicates `count` of its free receive NBLs (SourceHandle set). */
    indicate(a: Adapter, count = 1, flags = 0): number[] {
      const m = mpOf(a);
      const nbls = [...m.free].slice(0, count);
      for (const n of nbls) {
        r.NET_BUFFER_LIST_SOURCE_HANDLE_SET(n, m.handle);
        m.free.delete(n);
      }
      try {
        r.NdisMIndicateReceiveNetBufferLists(m.handle, link(nbls), 0, count, flags);
      } catch (e) {
        for (const n of nbls) m.free.add(n);
        throw e;
      }
      if (flags & NDIS_RECEIVE_FLAGS_RESOURCES) for (const n of nbls) m.free.add(n);
      return nbls;
    },
    /** The protocol returns what it holds on `a` (default: everything). */
    give(a: Adapter, nbls?: number[]): void {
      const b = binding(a);
      const back = nbls ?? [...b.held];
      r.NdisReturnNetBufferLists(b.handle, link(back), 0);
      b.held = b.held.filter((n) => !back.includes(n));
    },
    /** Everything a bug check must leave as it was. */
    observe() {
      return {
        adapters: adapters.map((a) => ({ state: a.state, outstanding: a.outstanding })),
        sent: [...byCtx.values()].map((m) => [...m.sent]),
        free: [...byCtx.values()].map((m) => [...m.free]),
        bindings: [...bindings.values()].map((b) => ({ held: [...b.held], completed: [...b.completed] })),
        poolmon: rt.poolmon(),
      };
    },
    /** `f` must throw `x` and change nothing observable. */
    unchanged(f: () => unknown, x: Expect): NdisBugCheck {
      const before = w.observe();
      const b = expectBug(f, x, { fullMessage: true });
      expect(w.observe()).toEqual(before);
      return b;
    },
  };
  return w;
}

const timeSend = (fn: string, nbl: number, adapter: number, late: number): Expect => ({
  fn, code: C4, rule: 'TIME-SEND', parameters: [NDIS_TIMED_DATA_SEND, nbl, adapter, late], message: /NdisTimedDataSend/,
});
const timeHang = (fn: string, nbl: number, adapter: number, late: number): Expect => ({
  fn, code: C4, rule: 'TIME-SEND', parameters: [NDIS_TIMED_DATA_HANG, nbl, adapter, late], message: /NdisTimedDataHang/,
});
const own3 = (fn: string, arg: string, nbl: number, holder: number, link: number, message?: RegExp): Expect => ({
  fn, arg, code: C4, rule: 'OWN-3', parameters: [RULE_P1['OWN-3'], nbl, holder, link], message,
});

// -- TIME-SEND --------------------------------------------------------------------------------------

describe('TIME-SEND: NdisTimedDataHang (0xC4 / 0x9200F): with sends pending, a completion at least every 22 s', () => {
  it('exactly 22 s after the send is in time; 1 ms later checkTimers() reports the oldest NBL, the adapter and how late', () => {
    const w = world();
    const [a] = w.adapters;
    w.clock.now = 1000;
    const [n] = w.send(a!);
    w.clock.now = 23000;
    w.rt.checkTimers(); // exactly at the deadline
    w.clock.now = 23001;
    const b = w.unchanged(() => w.rt.checkTimers(), timeHang('checkTimers', n!, a!.handle, 1));
    expect(b.message).toContain('completed none for 22001 ms');
    expect(b.message).toContain(`(eth0)`);
    expect(b).toMatchObject({ netBufferList: n, adapter: a!.handle, lateMs: 1 });
    // Fractional clocks: P4 rounds up, the message has the exact figure.
    w.clock.now = 23000.25;
    const f = bugCheck(() => w.rt.checkTimers());
    expect(f.parameters[3]).toBe(1);
    expect(f.message).toContain('0.250 ms late');
  });

  it('is checked at every natural point: a send, a filter send, runDpcs(), pnp(), createAdapter(), a completion', () => {
    const w = world();
    const [a] = w.adapters;
    const [n] = w.send(a!);
    w.clock.now = 22000 + 5;
    const adapter = a!.handle;
    // A new send on the binding: nothing is sent (the miniport gets nothing, no NBL is away).
    const b = w.binding(a!);
    const fresh = w.nblWithNb(b.pool);
    w.unchanged(() => w.r.NdisSendNetBufferLists(b.handle, fresh, 0, 0), timeHang('NdisSendNetBufferLists', n!, adapter, 5));
    w.r.NdisFreeNetBufferList(fresh); // still the protocol's: it may free it
    w.unchanged(() => w.rt.runDpcs(), timeHang('runDpcs', n!, adapter, 5));
    w.unchanged(() => w.rt.pnp(), timeHang('pnp', n!, adapter, 5));
    w.unchanged(() => w.rt.createAdapter(w.mpHandle, { name: 'late' }), timeHang('createAdapter', n!, adapter, 5));
    expect(w.rt.adapters().map((x) => x.name)).toEqual(['eth0']);
    // The miniport completing now is too late as well: the completion does not happen.
    w.unchanged(() => w.complete(a!), timeHang('NdisMSendNetBufferListsComplete', n!, adapter, 5));
    expect(w.mpOf(a!).sent).toEqual([n]);
    // A filter sending its own NBL.
    const m = w.moduleOf(a!);
    const pool = w.r.NdisAllocateNetBufferListPool(m.handle, { Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: 1, Size: 16 }, ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: 1, DataSize: 0 });
    const mine = w.nblWithNb(pool);
    w.r.NET_BUFFER_LIST_SOURCE_HANDLE_SET(mine, m.handle);
    w.unchanged(() => w.r.NdisFSendNetBufferLists(m.handle, mine, 0, 0), timeHang('NdisFSendNetBufferLists', n!, adapter, 5));
  });

  it('completions restart the 22 s; after an idle period the count starts at the next send', () => {
    const w = world();
    const [a] = w.adapters;
    const [n1, n2] = w.send(a!, 2);
    w.clock.now = 20000;
    w.complete(a!, [n2!]); // n1 still pending; the hang count restarts at 20000
    w.clock.now = 30000; // n1 exactly 30 s old, 10 s since the last completion
    w.rt.checkTimers();
    w.clock.now = 30000 + 1; // n1 is now late for NdisTimedDataSend (the hang deadline is 42000)
    w.unchanged(() => w.rt.checkTimers(), timeSend('checkTimers', n1!, a!.handle, 1));
    w.clock.now = 30000;
    w.complete(a!, [n1!]);
    // Nothing pending for a long time, then a send: its 22 s start at the send.
    w.clock.now = 1_000_000;
    const [n3] = w.send(a!);
    w.clock.now = 1_022_000;
    w.rt.checkTimers();
    w.clock.now = 1_022_001;
    w.unchanged(() => w.rt.checkTimers(), timeHang('checkTimers', n3!, a!.handle, 1));
  });

  it('a completion exactly at the deadline is in time, and completed NBLs are not timed any more', () => {
    const w = world();
    const [a] = w.adapters;
    const [n] = w.send(a!);
    w.clock.now = 22000;
    w.complete(a!); // exactly 22 s: in time
    expect(w.binding(a!).completed).toEqual([n]);
    w.clock.now = 10_000_000;
    w.rt.checkTimers();
    w.rt.runDpcs();
    w.rt.pnp();
  });
});

describe('TIME-SEND: NdisTimedDataSend (0xC4 / 0x9200D): each send completed within 30 s', () => {
  it('one starved NBL while others complete: in time at exactly 30 s, reported 1 ms later', () => {
    const w = world();
    const [a] = w.adapters;
    const [starved] = w.send(a!);
    // The miniport keeps completing other sends (so NdisTimedDataHang is satisfied)…
    for (let t = 10000; t <= 30000; t += 10000) {
      w.clock.now = t - 5000;
      const [other] = w.send(a!);
      w.clock.now = t;
      w.complete(a!, [other!]);
    }
    w.clock.now = 30000;
    w.rt.checkTimers();
    // …but never the first one.
    w.clock.now = 30001;
    const b = w.unchanged(() => w.rt.checkTimers(), timeSend('checkTimers', starved!, a!.handle, 1));
    expect(b.message).toContain(`given to the miniport of adapter`);
    expect(b.message).toContain('at 0 ms, is not completed at 30001 ms');
    // Completing it now is too late too (and does not happen).
    w.unchanged(() => w.complete(a!, [starved!]), timeSend('NdisMSendNetBufferListsComplete', starved!, a!.handle, 1));
  });

  it('the earliest deadline passed is reported, across adapters', () => {
    const w = world({ adapters: 2 });
    const [a0, a1] = w.adapters;
    w.clock.now = 100;
    const [x] = w.send(a1!); // hang deadline 22100
    w.clock.now = 200;
    const [y] = w.send(a0!); // hang deadline 22200
    w.clock.now = 50_000;
    w.unchanged(() => w.rt.checkTimers(), timeHang('checkTimers', x!, a1!.handle, 50_000 - 22_100));
    expect(y).toBeGreaterThan(0);
  });

  it('sends NDIS completes at once on a paused adapter never reach the miniport: not timed', () => {
    const w = world();
    const [a] = w.adapters;
    a!.pause();
    const [n] = w.send(a!);
    expect(w.r.NET_BUFFER_LIST_STATUS(n)).toBe(NDIS_STATUS_PAUSED);
    w.clock.now = 1e9;
    w.rt.checkTimers();
  });

  it('the virtual NIC, its DPCs run every 20 s: every send completes in time', () => {
    const rt = createRuntimeSync({ verifier: true, maxMemory: 32 << 20 });
    let now = 0;
    rt.clock = () => now;
    const mp = rt.registerVirtualMiniport({ tcbCount: 8, rcbCount: 8 });
    const pending = new Set<number>();
    const out: Loose = { value: 0 };
    const bindings = new Map<string, number>();
    const byCtx = new Map<number, number>();
    const chars = protocolChars('V', {
      BindAdapterHandlerEx(_c: number, bindContext: object, params: Loose): number {
        const b: Loose = { value: 0 };
        const ctx = bindings.size + 1;
        rt.NdisOpenAdapterEx(out.value, ctx, { Header: { Type: NDIS_OBJECT_TYPE_OPEN_PARAMETERS, Revision: 1, Size: 0x40 }, AdapterName: params.AdapterName }, bindContext, b);
        bindings.set(params.AdapterName, b.value);
        byCtx.set(ctx, b.value);
        return NDIS_STATUS_SUCCESS;
      },
      ReceiveNetBufferListsHandler(ctx: number, head: number): void {
        rt.NdisReturnNetBufferLists(byCtx.get(ctx) as Loose, head as Loose, 1);
      },
      SendNetBufferListsCompleteHandler(_c: number, head: number): void {
        for (const n of rt.nblChain(head as Loose)) pending.delete(n as number);
      },
    });
    expect(rt.NdisRegisterProtocolDriver(0, chars, out)).toBe(NDIS_STATUS_SUCCESS);
    const a = rt.createAdapter(mp, { name: 'v0' })!;
    rt.createAdapter(mp, { name: 'v1' });
    const r: Loose = loose(rt);
    const gen = r.NdisAllocateGenericObject(0, 1, 0);
    const mem = r.NdisAllocateMemoryWithTagPriority(gen, 64, 1, NormalPoolPriority);
    const mdl = r.NdisAllocateMdl(gen, mem, 64);
    const pool = r.NdisAllocateNetBufferListPool(gen, { Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: 1, Size: 16 }, ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: 2, DataSize: 0 });
    for (let i = 0; i < 5; i++) {
      const n = r.NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, mdl, 0, 64) as number;
      pending.add(n);
      rt.NdisSendNetBufferLists(bindings.get('v0') as Loose, n as Loose, 0, 0);
      now += 20_000;
      const d = rt.runDpcs();
      expect(d.sendsCompleted).toBe(1);
      expect(pending.size).toBe(0);
      rt.NdisFreeNetBufferList(n as Loose);
    }
    expect(a.outstanding.sends).toBe(0);
    expect(rt.nicCounters(a.handle)!.framesSent).toBe(5);
  });

  it('a normal runtime does not check (nor read the clock); checkTimers() does nothing', () => {
    const w = world({ verifier: false });
    const [a] = w.adapters;
    w.send(a!);
    w.clock.now = 1e12;
    w.rt.checkTimers();
    w.rt.runDpcs();
    w.rt.pnp();
    w.send(a!);
    w.complete(a!);
    expect(w.clock.reads).toBe(0);
  });
});

describe('TIME-SEND: the clock', () => {
  it('createRuntime validates options.clock; runtime.clock defaults to performance.now', () => {
    expect(() => createRuntimeSync({ clock: 5 as Loose })).toThrow(/options\.clock/);
    const rt = createRuntimeSync({ verifier: true });
    const t = rt.clock();
    expect(t).toBeGreaterThan(0);
    expect(Math.abs(t - performance.now())).toBeLessThan(60_000);
  });

  // The option reaches runtime.clock through src/runtime.ts (createRuntime / createRuntimeSync).
  const clock = () => 42;
  const wired = createRuntimeSync({ verifier: true, clock }).clock === clock;
  it.skipIf(!wired)('createRuntimeSync({ clock }) uses that clock', () => {
    const rt = createRuntimeSync({ verifier: true, clock });
    expect(rt.clock).toBe(clock);
  });

  it('a clock that returns no finite number is PARAM at the check', () => {
    const w = world();
    w.clock.now = NaN;
    expectBug(() => w.rt.checkTimers(), { fn: 'checkTimers', arg: 'runtime.clock()', code: C4, rule: 'PARAM' });
  });
});

// -- OWN-3 ---------------------------------------------------------------------------------------------

describe('OWN-3: only the creator of an NBL edits its NET_BUFFER chain (verifier)', () => {
  it('a filter that drops an NB before passing a send down: NdisFSendNetBufferLists, the miniport gets nothing', () => {
    const w = world();
    const [a] = w.adapters;
    const m = w.moduleOf(a!);
    let err: NdisBugCheck | undefined;
    w.hooks.filterSend = (nbls) => {
      const n = nbls[0]!;
      const nbs = w.nbsOf(n);
      w.r.NET_BUFFER_NEXT_NB_SET(nbs[0], 0); // cuts NB 2 off
      const before = w.observe();
      err = bugCheck(() => w.r.NdisFSendNetBufferLists(m.handle, n, 0, 0));
      expect(w.observe()).toEqual(before);
      expect(w.mpOf(a!).sent).toEqual([]);
      w.r.NET_BUFFER_NEXT_NB_SET(nbs[0], nbs[1]); // put back: the filter then passes it on
    };
    const [n] = w.send(a!, 1, 1);
    const nb2 = w.nbsOf(n!)[1]!;
    expectBug(() => { throw err; }, own3('NdisFSendNetBufferLists', 'NetBufferLists[0]', n!, m.handle, 1,
      new RegExp(`NET_BUFFER_NEXT_NB of its NET_BUFFER 1 .* is 0x00000000 \\(was 0x${nb2.toString(16).toUpperCase().padStart(8, '0')}\\)`)), { fullMessage: true });
    expect(err!.message).toMatch(/filter module .*pass filter on eth0/);
    expect(err!.message).toMatch(/only the driver that created the NBL \(binding .*\(P on eth0\)\)/);
    // The restored send went through.
    expect(w.mpOf(a!).sent).toEqual([n]);
  });

  it('the miniport replacing the first NB, then completing: NdisMSendNetBufferListsComplete, nothing completes', () => {
    const w = world();
    const [a] = w.adapters;
    const [n] = w.send(a!, 1, 1);
    const first = w.r.NET_BUFFER_LIST_FIRST_NB(n);
    const other = w.nb();
    w.r.NET_BUFFER_LIST_FIRST_NB_SET(n, other);
    const b = w.unchanged(() => w.complete(a!), own3('NdisMSendNetBufferListsComplete', 'NetBufferLists[0]', n!, a!.handle, 0, /NET_BUFFER_LIST_FIRST_NB is/));
    expect(b.message).toContain('while the miniport of adapter');
    expect(w.binding(a!).completed).toEqual([]);
    w.r.NET_BUFFER_LIST_FIRST_NB_SET(n, first); // restored: the completion goes through
    w.complete(a!);
    expect(w.binding(a!).completed).toEqual([n]);
  });

  it('a filter editing on the completion path: NdisFSendNetBufferListsComplete', () => {
    const w = world();
    const [a] = w.adapters;
    const m = w.moduleOf(a!);
    const [n] = w.send(a!);
    let err: unknown;
    w.hooks.filterSendComplete = (nbls) => {
      const x = w.appendNb(nbls[0]!);
      const before = w.observe();
      err = bugCheck(() => w.r.NdisFSendNetBufferListsComplete(m.handle, nbls[0], 0));
      expect(w.observe()).toEqual(before);
      expect(w.binding(a!).completed).toEqual([]);
      w.r.NET_BUFFER_NEXT_NB_SET(w.nbsOf(nbls[0]!)[0], 0); // restored: the completion goes up
      w.r.NdisFreeNetBuffer(x);
    };
    w.complete(a!);
    expectBug(() => { throw err; }, own3('NdisFSendNetBufferListsComplete', 'NetBufferLists[0]', n!, m.handle, 1));
    expect(w.binding(a!).completed).toEqual([n]);
  });

  it('receives: a filter extending the chain before indicating up, or before dropping (returning) it', () => {
    const w = world();
    const [a] = w.adapters;
    const m = w.moduleOf(a!);
    const errs: unknown[] = [];
    let drop = false;
    w.hooks.filterReceive = (nbls, flags) => {
      const x = w.appendNb(nbls[0]!);
      errs.push(bugCheck(() => drop
        ? w.r.NdisFReturnNetBufferLists(m.handle, nbls[0], 0)
        : w.r.NdisFIndicateReceiveNetBufferLists(m.handle, nbls[0], 0, 1, flags)));
      w.r.NET_BUFFER_NEXT_NB_SET(w.nbsOf(nbls[0]!)[0], 0); // restore
      w.r.NdisFreeNetBuffer(x);
      return drop;
    };
    const [n] = w.indicate(a!);
    expectBug(() => { throw errs[0]; }, own3('NdisFIndicateReceiveNetBufferLists', 'NetBufferLists[0]', n!, m.handle, 1));
    expect(w.binding(a!).held).toEqual([n]); // the restored chain went up
    w.give(a!);
    drop = true;
    const [n2] = w.indicate(a!);
    expectBug(() => { throw errs[1]; }, own3('NdisFReturnNetBufferLists', 'NetBufferLists[0]', n2!, m.handle, 1));
    expect(w.mpOf(a!).free.has(n2!)).toBe(true); // returned after the restore
  });

  it('a protocol editing a received NBL it holds: NdisReturnNetBufferLists, the miniport gets nothing back', () => {
    const w = world();
    const [a] = w.adapters;
    const [n] = w.indicate(a!);
    const first = w.r.NET_BUFFER_LIST_FIRST_NB(n);
    w.r.NET_BUFFER_LIST_FIRST_NB_SET(n, 0);
    const b = w.unchanged(() => w.give(a!), own3('NdisReturnNetBufferLists', 'NetBufferLists[0]', n!, w.binding(a!).handle, 0));
    expect(b.message).toMatch(/binding .*\(P on eth0\)/);
    expect(b.message).toMatch(/created the NBL \(adapter .*\(eth0\)\)/);
    w.r.NET_BUFFER_LIST_FIRST_NB_SET(n, first);
    w.give(a!);
    expect(w.mpOf(a!).free.has(n!)).toBe(true);
  });

  it('NDIS_RECEIVE_FLAGS_RESOURCES: the hand-back is the handler\'s return (ProtocolReceiveNetBufferLists)', () => {
    const w = world({ filter: false });
    const [a] = w.adapters;
    w.hooks.protocolReceive = (nbls) => { w.appendNb(nbls[0]!); };
    const m = w.mpOf(a!);
    const n = [...m.free][0]!;
    const err = bugCheck(() => w.indicate(a!, 1, NDIS_RECEIVE_FLAGS_RESOURCES));
    expectBug(() => { throw err; }, own3('ProtocolReceiveNetBufferLists', 'NetBufferLists[0]', n, w.binding(a!).handle, 1), { fullMessage: true });
    // The indication is over: the NBL is the miniport's again (it may free or reuse it).
    expect(w.adapters[0]!.outstanding).toEqual({ sends: 0, receives: 0 });
  });

  it('the creator may edit: a protocol between sends, a miniport between indications, a filter its own NBL', () => {
    const w = world();
    const [a] = w.adapters;
    // Protocol: edits after the completion and sends again.
    const [n] = w.send(a!, 1, 2);
    w.complete(a!);
    const nbs = w.nbsOf(n!);
    w.r.NET_BUFFER_NEXT_NB_SET(nbs[0], nbs[2]); // drops the middle NB
    w.r.NdisSendNetBufferLists(w.binding(a!).handle, n, 0, 0);
    w.complete(a!);
    expect(w.binding(a!).completed).toEqual([n, n]);
    // Miniport: edits a receive NBL after it came back, indicates it again.
    const [rx] = w.indicate(a!);
    w.give(a!);
    w.appendNb(rx!);
    w.indicate(a!, 4); // rx among them, with its new chain
    w.give(a!);
    // A filter's own NBL: edited before it sends it, again after its completion.
    const mod = w.moduleOf(a!);
    const pool = w.r.NdisAllocateNetBufferListPool(mod.handle, { Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: 1, Size: 16 }, ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: 3, DataSize: 0 });
    const own = w.nblWithNb(pool);
    w.r.NET_BUFFER_LIST_SOURCE_HANDLE_SET(own, mod.handle);
    w.appendNb(own);
    w.r.NdisFSendNetBufferLists(mod.handle, own, 0, 0);
    w.complete(a!);
    expect(w.filterOwnCompleted).toEqual([own]);
    w.r.NET_BUFFER_LIST_FIRST_NB_SET(own, 0);
    // A change undone before the hand-off, and edits of other fields, are not OWN-3.
    const [m2] = w.send(a!, 1, 1);
    const [f1, f2] = w.nbsOf(m2!);
    w.r.NET_BUFFER_NEXT_NB_SET(f1, 0);
    w.r.NET_BUFFER_NEXT_NB_SET(f1, f2);
    w.r.NET_BUFFER_DATA_OFFSET_SET(f2, 0);
    w.r.NET_BUFFER_LIST_STATUS_SET(m2, 0);
    w.complete(a!);
  });

  it('a normal runtime does not check it', () => {
    const w = world({ verifier: false });
    const [a] = w.adapters;
    const [n] = w.send(a!, 1, 1);
    w.r.NET_BUFFER_LIST_FIRST_NB_SET(n, 0);
    w.complete(a!);
    expect(w.binding(a!).completed).toEqual([n]);
  });
});

// -- BUF-1 -------------------------------------------------------------------------------------------

describe('BUF-1: lower drivers chain only NdisAllocateBuffer buffers to packets (verifier)', () => {
  /** A world with a packet, a buffer pool, memory and an OS MDL (NdisAllocateMdl) over it. */
  function packets(o: WorldOptions = {}) {
    const w = world(o);
    const r = w.r;
    const st: Loose = { value: -1 };
    const pp: Loose = { value: 0 };
    r.NdisAllocatePacketPool(st, pp, 8, 16);
    const pk: Loose = { value: 0 };
    r.NdisAllocatePacket(st, pk, pp.value);
    const bp: Loose = { value: 0 };
    r.NdisAllocateBufferPool(st, bp, 8);
    const gen = r.NdisAllocateGenericObject(0, 1, 0);
    const mem = r.NdisAllocateMemoryWithTagPriority(gen, 256, 1, NormalPoolPriority);
    const osMdl = r.NdisAllocateMdl(gen, mem, 64) as number;
    const buffer = () => {
      const b: Loose = { value: 0 };
      r.NdisAllocateBuffer(st, b, bp.value, mem + 64, 32);
      expect(st.value).toBe(NDIS_STATUS_SUCCESS);
      return b.value as number;
    };
    const bufferCount = () => {
      const c: Loose = { value: -1 };
      r.NdisQueryPacket(pk.value, undefined, c, undefined, undefined);
      return c.value as number;
    };
    /** Runs `f` inside the filter's FilterRestart; returns what it threw (or undefined). */
    const asFilter = (f: () => void): unknown => {
      let err: unknown;
      w.hooks.filterRestart = () => {
        try {
          f();
        } catch (e) {
          err = e;
        }
      };
      w.adapters[0]!.pause();
      w.adapters[0]!.restart();
      w.hooks.filterRestart = undefined;
      return err;
    };
    return { ...w, packet: pk.value as number, osMdl, buffer, bufferCount, asFilter, gen, mem };
  }

  it('a filter chaining an OS MDL (NdisAllocateMdl): BUF-1 naming the MDL, the packet and the filter; nothing chained', () => {
    const w = packets();
    for (const fn of ['NdisChainBufferAtFront', 'NdisChainBufferAtBack'] as const) {
      const err = w.asFilter(() => w.r[fn](w.packet, w.osMdl));
      const b = expectBug(() => { throw err; }, {
        fn, arg: 'Buffer', code: C4, rule: 'BUF-1', parameters: [RULE_P1['BUF-1'], w.osMdl, w.packet, w.filterHandle],
        message: /is an MDL from NdisAllocateMdl, and the caller is filter driver .*\(pass filter\)/,
      }, { fullMessage: true });
      expect(b.message).toContain('only a highest-level protocol may chain OS MDLs');
      expect(w.bufferCount()).toBe(0);
    }
    w.r.NdisFreeMdl(w.osMdl); // not chained: no PKT-2
  });

  it('a filter chaining buffers from NdisAllocateBuffer (front and back) is fine; a chain with an OS MDL inside is not', () => {
    const w = packets();
    const b1 = w.buffer();
    const b2 = w.buffer();
    expect(w.asFilter(() => {
      w.r.NdisChainBufferAtFront(w.packet, b1);
      w.r.NdisChainBufferAtBack(w.packet, b2);
    })).toBeUndefined();
    expect(w.bufferCount()).toBe(2);
    // b3 -> osMdl: the second buffer of the chain is reported.
    const b3 = w.buffer();
    w.r.NDIS_MDL_LINKAGE_SET(b3, w.osMdl);
    const err = w.asFilter(() => w.r.NdisChainBufferAtBack(w.packet, b3));
    expectBug(() => { throw err; }, {
      fn: 'NdisChainBufferAtBack', arg: 'Buffer', code: C4, rule: 'BUF-1', parameters: [RULE_P1['BUF-1'], w.osMdl, w.packet, w.filterHandle],
      message: /\(buffer 1 of the chain at /,
    });
    expect(w.bufferCount()).toBe(2);
  });

  it('a highest-level protocol may chain an OS MDL (in its handler), and so may code outside any driver handler', () => {
    const w = packets({ filter: false });
    let err: unknown = 'not run';
    w.hooks.protocolReceive = () => {
      try {
        w.r.NdisChainBufferAtFront(w.packet, w.osMdl);
        err = undefined;
      } catch (e) {
        err = e;
      }
    };
    w.indicate(w.adapters[0]!, 1, NDIS_RECEIVE_FLAGS_RESOURCES);
    expect(err).toBeUndefined();
    expect(w.bufferCount()).toBe(1);
    const out: Loose = { value: 0 };
    w.r.NdisUnchainBufferAtFront(w.packet, out);
    w.r.NdisChainBufferAtBack(w.packet, w.osMdl); // no handler running
    expect(w.bufferCount()).toBe(1);
  });

  it('the protocol edge of an intermediate driver is a lower driver', () => {
    const w = packets({ filter: false });
    // A second protocol, associated with an IM driver's miniport half.
    const im: Loose = { value: 0 };
    let err: unknown = 'not run';
    const chars = protocolChars('IM', {
      BindAdapterHandlerEx(_c: number, bindContext: object, params: Loose): number {
        const b: Loose = { value: 0 };
        w.r.NdisOpenAdapterEx(im.value, 1, { Header: { Type: NDIS_OBJECT_TYPE_OPEN_PARAMETERS, Revision: 1, Size: 0x40 }, AdapterName: params.AdapterName }, bindContext, b);
        return NDIS_STATUS_SUCCESS;
      },
      ReceiveNetBufferListsHandler(): void {
        try {
          w.r.NdisChainBufferAtFront(w.packet, w.osMdl);
          err = undefined;
        } catch (e) {
          err = e;
        }
      },
    });
    expect(w.r.NdisRegisterProtocolDriver(0, chars, im)).toBe(NDIS_STATUS_SUCCESS);
    const imMiniport: Loose = { value: 0 };
    const noop = () => NDIS_STATUS_SUCCESS;
    expect(w.r.NdisMRegisterMiniportDriver(0, 'im', 0, {
      Header: { Type: NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS, Revision: NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2, Size: 0x7c },
      MajorNdisVersion: 6, MinorNdisVersion: 20, InitializeHandlerEx: noop, HaltHandlerEx: noop, PauseHandler: noop, RestartHandler: noop,
      SendNetBufferListsHandler: noop, ReturnNetBufferListsHandler: noop, CancelSendHandler: noop,
    }, imMiniport)).toBe(NDIS_STATUS_SUCCESS);
    w.r.NdisIMAssociateMiniport(imMiniport.value, im.value);
    w.rt.pnp(); // binds IM's protocol edge to eth0
    w.indicate(w.adapters[0]!, 1, NDIS_RECEIVE_FLAGS_RESOURCES);
    expectBug(() => { throw err; }, {
      fn: 'NdisChainBufferAtFront', arg: 'Buffer', code: C4, rule: 'BUF-1', parameters: [RULE_P1['BUF-1'], w.osMdl, w.packet, im.value],
      message: /the protocol edge of an intermediate driver/,
    });
    expect(w.bufferCount()).toBe(0);
  });

  it('a miniport: NDIS5-IN-6 (0x7C/0x15) comes first, as for any NDIS 5 call', () => {
    const w = packets({ filter: false });
    let err: unknown;
    w.hooks.miniportRestart = () => {
      try {
        w.r.NdisChainBufferAtFront(w.packet, w.osMdl);
      } catch (e) {
        err = e;
      }
    };
    w.adapters[0]!.pause();
    w.adapters[0]!.restart();
    expect(err).toBeInstanceOf(NdisBugCheck);
    expect((err as NdisBugCheck).rule).toBe('NDIS5-IN-6');
    expect((err as NdisBugCheck).code).toBe(BUGCODE_NDIS_DRIVER);
  });

  it('arguments the call rejects keep their own bug check; other MDLs that are not buffers are BUF-1 too', () => {
    const w = packets();
    const forged = w.asFilter(() => w.r.NdisChainBufferAtFront(w.packet, 12345));
    expect((forged as NdisBugCheck).rule).not.toBe('BUF-1');
    const badPacket = w.asFilter(() => w.r.NdisChainBufferAtFront(w.osMdl, w.osMdl));
    expect((badPacket as NdisBugCheck).rule).not.toBe('BUF-1');
    // An MDL of a NET_BUFFER's own data (NdisAllocateNetBufferMdlAndData) is no buffer either.
    const dpool = w.r.NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: 7, DataSize: 64 });
    const nbd = w.r.NdisAllocateNetBufferMdlAndData(dpool);
    const inner = w.r.NET_BUFFER_FIRST_MDL(nbd);
    const err = w.asFilter(() => w.r.NdisChainBufferAtFront(w.packet, inner));
    expectBug(() => { throw err; }, {
      fn: 'NdisChainBufferAtFront', arg: 'Buffer', code: C4, rule: 'BUF-1', parameters: [RULE_P1['BUF-1'], inner, w.packet, w.filterHandle],
      message: /is not from NdisAllocateBuffer/,
    });
    expect(w.bufferCount()).toBe(0);
    // Outside a driver handler the model accepts it (as NDIS does for a highest-level protocol).
    w.r.NdisChainBufferAtFront(w.packet, inner);
    expect(w.bufferCount()).toBe(1);
  });

  it('a normal runtime does not check it', () => {
    const w = packets({ verifier: false });
    expect(w.asFilter(() => w.r.NdisChainBufferAtFront(w.packet, w.osMdl))).toBeUndefined();
    expect(w.bufferCount()).toBe(1);
  });
});
