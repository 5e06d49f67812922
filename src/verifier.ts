/**
 * Verifier mode (DESIGN D7): `createRuntime({ verifier: true })` gives a runtime what Driver
 * Verifier gives a driver.
 *
 * - Quarantine: every pool poisons its freed objects (byte 0xDD) and holds them back from reuse
 *   for the next `quarantine` frees (Wasm side, assembly/slab.ts), so a later use of a freed
 *   object through the library is caught even when a plain pool would have reused the slot.
 * - Allocation and free sites: each NDIS allocation records where it was made (the JS stack,
 *   captured only in this mode) and each free where it happened. A use-after-free or double free
 *   bug check then names both sites; `runtime.leaks()` lists the live objects by pool, tag and
 *   site; freeing a pool with objects outstanding (POOL-5) and releasing a handle that still owns
 *   pools (POOL-6) list each leaked object; deregistering a driver or halting an adapter whose
 *   handle still has MDLs (ALT-MDL) or memory blocks (ALT-MEM) allocated with it is reported
 *   before anything is released.
 * - IRQL: every NDIS call checks its IRQL rule (IRQL-NB, IRQL-MISC, IRQL-PROT, IRQL-DPR) and
 *   LOCK-5 against the runtime's IRQL model (src/ndis/irql.ts).
 * - The caller: an NDIS 6 miniport handler calling the NDIS 5 API (NDIS5-IN-6); a lower driver's
 *   handler chaining a buffer that is not from NdisAllocateBuffer to a packet (BUF-1).
 * - The data path (src/ndis/driver.ts): NET_BUFFER chains edited by a driver that did not create
 *   the NBL (OWN-3) and send-completion deadlines (TIME-SEND, `runtime.checkTimers()`).
 *
 * The wrappers are own properties of the verifier runtime: a normal runtime runs the plain
 * methods and pays nothing.
 */
import { RuntimeCore } from './core.js';
import { NdisBugCheck, ruleViolation, hexAddr, BUGCODE_NDIS_DRIVER, type RULE_P1 } from './errors.js';
import { irqlOf, DISPATCH_LEVEL, PASSIVE_LEVEL } from './ndis/irql.js';
import { E, KIND, MDL, NBL, POOL } from './ndis/layout.js';
import { tagToString } from './ndis/constants.js';
import { checkSendTimers, driverObjectOf, runningDriver, runningLowerDriver } from './ndis/driver.js';

/** Where an object was allocated or freed. */
export interface Site {
  /** The NDIS function. */
  fn: string;
  /** The caller's JS stack (innermost frame first), without the library's own frames. */
  stack: string;
}

/** One live object of `runtime.leaks()`. */
export interface LeakEntry {
  address: number;
  /** What it is ('NET_BUFFER', 'NET_BUFFER_LIST', 'MDL', 'packet pool handle'…). */
  kind: string;
  /** The pool it came from (its handle), or 0. */
  pool: number;
  /** The NdisHandle it was allocated with (pools, memory, MDLs; for generic objects the DriverObject), or 0. */
  owner: number;
  /** Pool tag as poolmon shows it. */
  tag: string;
  allocated: Site;
}

interface Rec {
  site: Site;
  pool: number;
  owner: number;
}

/** Allocators: where the new object is (-1: the return value; n: out-box argument n), its pool and owner arguments. */
const ALLOCS: Record<string, { out: number; pool?: number; owner?: number }> = {
  NdisAllocateGenericObject: { out: -1, owner: 0 }, // owner: the DriverObject
  NdisAllocateMemoryWithTagPriority: { out: -1, owner: 0 },
  NdisAllocateMdl: { out: -1, owner: 0 },
  NdisAllocateNetBufferPool: { out: -1, owner: 0 },
  NdisAllocateNetBuffer: { out: -1, pool: 0 },
  NdisAllocateNetBufferMdlAndData: { out: -1, pool: 0 },
  NdisAllocateNetBufferListPool: { out: -1, owner: 0 },
  NdisAllocateNetBufferList: { out: -1, pool: 0 },
  NdisAllocateNetBufferAndNetBufferList: { out: -1, pool: 0 },
  NdisAllocatePacketPool: { out: 1 },
  NdisAllocatePacketPoolEx: { out: 1 },
  NdisAllocatePacket: { out: 1, pool: 2 },
  NdisDprAllocatePacket: { out: 1, pool: 2 },
  NdisDprAllocatePacketNonInterlocked: { out: 1, pool: 2 },
  NdisAllocateBufferPool: { out: 1 },
  NdisAllocateBuffer: { out: 1, pool: 2 },
};

/** Frees: the argument holding the object. */
const FREES: Record<string, number> = {
  NdisFreeGenericObject: 0,
  NdisFreeMemoryWithTagPriority: 1,
  NdisFreeMdl: 0,
  NdisFreeNetBufferPool: 0,
  NdisFreeNetBuffer: 0,
  NdisFreeNetBufferListPool: 0,
  NdisFreeNetBufferList: 0,
  NdisFreePacketPool: 0,
  NdisFreePacket: 0,
  NdisDprFreePacket: 0,
  NdisDprFreePacketNonInterlocked: 0,
  NdisFreeBufferPool: 0,
  NdisFreeBuffer: 0,
};

/** Calls that release a handle: live MDLs / memory allocated with it are reported first. */
const HANDLE_RELEASES: Record<string, number> = {
  // The driver model checks the handles it frees itself (adapters, bindings, filter modules,
  // miniport and filter drivers): see driver.ts freeHandle.
  NdisDeregisterProtocolDriver: 0,
  NdisFreeGenericObject: 0,
};

/** IRQL rules: [rule, highest IRQL allowed, exact (the Dpr calls need exactly DISPATCH)]. */
type IrqlRule = [keyof typeof RULE_P1, number, boolean];
const NB_FUNCS = /^(NET_BUFFER|NdisAllocateNetBuffer|NdisFreeNetBuffer|NdisRetreat|NdisAdvance|NdisGetDataBuffer|NdisCopyFromNetBuffer|NdisQueryNetBuffer|NdisGetPoolFromNetBuffer|NdisAllocateMdl|NdisFreeMdl|NDIS_MDL|MmGet|NdisAllocateNetBufferListContext|NdisFreeNetBufferListContext|freeNetBufferListChain|countNet|allocateNetBuffers|freeNetBuffers)/;
const IRQL_ANY = new Set(['NdisAdjustNetBufferCurrentMdl', 'NdisGetNetBufferListProtocolId', 'NdisSetNetBufferListProtocolId']);
const NDIS5 = /^(NdisAllocatePacket|NdisFreePacket|NdisAllocateBuffer|NdisFreeBuffer|NdisChainBuffer|NdisUnchainBuffer|NdisQueryPacket|NdisReinitializePacket|NdisPacketPoolUsage|NdisDpr|NdisGetPoolFromPacket|NdisSetPacketPoolProtocolId|NDIS_|NdisQueryBuffer|NdisGetNextBuffer)/;
const LOCK5 = new Set(['NdisAllocatePacketPool', 'NdisAllocatePacketPoolEx', 'NdisFreePacketPool', 'NdisAllocateBufferPool', 'NdisFreePacket']);
const PASSIVE_ONLY = new Set([
  'NdisRegisterProtocolDriver', 'NdisDeregisterProtocolDriver', 'NdisMRegisterMiniportDriver', 'NdisMDeregisterMiniportDriver',
  'NdisFRegisterFilterDriver', 'NdisFDeregisterFilterDriver', 'NdisOpenAdapterEx', 'NdisCloseAdapterEx',
]);

function irqlRule(name: string): IrqlRule | null {
  if (IRQL_ANY.has(name) || /^(Ke|NdisAllocateSpinLock|NdisFreeSpinLock|NdisAcquireSpinLock|NdisReleaseSpinLock|NdisDprAcquireSpinLock|NdisDprReleaseSpinLock)/.test(name)) return null;
  if (PASSIVE_ONLY.has(name)) return ['IRQL-PROT', PASSIVE_LEVEL, false];
  if (/^NdisDpr(Allocate|Free)Packet/.test(name)) return ['IRQL-DPR', DISPATCH_LEVEL, true];
  if (name === 'NdisAllocateGenericObject' || name === 'NdisFreeGenericObject') return ['IRQL-MISC', DISPATCH_LEVEL, false];
  if (NB_FUNCS.test(name) || name.startsWith('NdisAllocateNetBufferList') || name.startsWith('NdisFreeNetBufferList')) return ['IRQL-NB', DISPATCH_LEVEL, false];
  if (NDIS5.test(name)) return ['IRQL-DPR', DISPATCH_LEVEL, false];
  return ['IRQL-NB', DISPATCH_LEVEL, false]; // every other NDIS call of this package: <= DISPATCH
}

/** A site whose stack text is made on first read. */
class LazySite implements Site {
  #holder: Error | null;
  #stack = '';
  constructor(readonly fn: string, holder: Error) {
    this.#holder = holder;
  }
  get stack(): string {
    if (this.#holder) {
      const lines = (this.#holder.stack ?? '').split('\n').slice(1);
      const outside = lines.filter((l) => !/\/(verifier|runtime|core|driver|vnic|pool|ndis\/[a-z]+)\.(js|ts)/.test(l));
      this.#stack = (outside.length ? outside : lines).slice(0, 8).map((l) => l.trim()).join('\n');
      this.#holder = null;
    }
    return this.#stack;
  }
  toJSON(): Site {
    return { fn: this.fn, stack: this.stack };
  }
}

/** The verifier state of a runtime. */
export class Verifier {
  readonly live = new Map<number, Rec>();
  /** Freed objects still remembered (the newest `remember`): address → [allocated, freed]. */
  readonly freed = new Map<number, [Site | undefined, Site]>();
  constructor(readonly rt: RuntimeCore, readonly remember: number) {}

  /**
   * The caller's site. The stack is captured here but formatted only when read (formatting is
   * the expensive part: tens of µs), and without this file's and the library's frames.
   */
  static site(fn: string): Site {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 10;
    const holder = new Error();
    Error.stackTraceLimit = limit;
    return new LazySite(fn, holder);
  }

  allocated(addr: number, rec: Rec): void {
    this.live.set(addr, rec);
    this.freed.delete(addr);
  }

  released(addr: number, site: Site): void {
    const r = this.live.get(addr);
    this.live.delete(addr);
    this.freed.delete(addr);
    this.freed.set(addr, [r?.site, site]);
    if (this.freed.size > this.remember) this.freed.delete(this.freed.keys().next().value!);
  }

  /** Live entries that are still live objects of the runtime (NBL frees take their NB with them…). */
  stillLive(): [number, Rec][] {
    const rt = this.rt;
    rt.sync();
    const out: [number, Rec][] = [];
    for (const [a, r] of this.live) {
      const k = rt.kindAt(a);
      if (k !== 0 && rt.liveIn(a, k) >= 0x10000) out.push([a, r]);
      else this.live.delete(a);
    }
    return out;
  }

  /**
   * LEAK-MDL / LEAK-MEM: `h` is about to be released while MDLs or memory blocks allocated with
   * it are live. Called by the wrappers and by the driver model before it frees a handle.
   */
  checkRelease(fn: string, h: number): void {
    const rt = this.rt;
    if (h === 0) return;
    const left = this.stillLive().filter(([a, r]) => r.owner === h && (rt.kindAt(a) === KIND.MDL || rt.kindAt(a) === KIND.MEMORY));
    if (left.length === 0) return;
    const mdls = left.filter(([a]) => rt.kindAt(a) === KIND.MDL);
    const mem = left.length - mdls.length;
    const what = [mdls.length ? `${mdls.length} MDL(s)` : '', mem ? `${mem} memory block(s)` : ''].filter(Boolean).join(' and ');
    const list = [...mdls, ...left.filter(([a]) => rt.kindAt(a) !== KIND.MDL)];
    const err = ruleViolation(fn, undefined, mdls.length ? 'LEAK-MDL' : 'LEAK-MEM',
      `${hexAddr(h)} still has ${what} allocated with it: ${list.slice(0, 8).map(([a, r]) => `${kindLabel(rt.kindAt(a))} ${hexAddr(a)} (${r.site.fn} at ${frame(r.site)})`).join(', ')}${list.length > 8 ? `, and ${list.length - 8} more` : ''}`,
      h, left.length, list[0]![0]);
    Object.assign(err, { leaks: list.map(([a]) => a) });
    throw err;
  }

  /** Adds the pools (and their objects) a handle still owns to its POOL-6 bug check. */
  explainPool6(err: NdisBugCheck, h: number): NdisBugCheck {
    const pools = new Set(this.stillLive().filter(([, r]) => r.owner === h).map(([a]) => a));
    return withLeaks(this, err, (r) => r.owner === h || pools.has(r.pool));
  }

  leaks(): LeakEntry[] {
    const rt = this.rt;
    return this.stillLive().map(([address, r]) => {
      const slab = rt.liveIn(address, rt.kindAt(address));
      const pool = rt.rd32(slab);
      return {
        address, kind: kindLabel(rt.kindAt(address)), pool: r.pool, owner: r.owner,
        tag: tagToString(rt.rd32(pool + POOL.Tag)), allocated: r.site,
      };
    });
  }
}

function kindLabel(k: number): string {
  switch (k) {
    case KIND.NB: return 'NET_BUFFER';
    case KIND.NBL: return 'NET_BUFFER_LIST';
    case KIND.MDL: return 'MDL';
    case KIND.MEMORY: return 'memory block';
    case KIND.GENERIC: return 'NDIS_GENERIC_OBJECT';
    case KIND.PACKET: return 'NDIS_PACKET';
    case KIND.NB_POOL: return 'NET_BUFFER pool';
    case KIND.NBL_POOL: return 'NET_BUFFER_LIST pool';
    case KIND.PACKET_POOL: return 'packet pool';
    case KIND.BUFFER_POOL: return 'buffer pool';
    default: return `object of kind ${k}`;
  }
}

/** The innermost frame of a site, without its "at ". */
function frame(s: Site): string {
  return (s.stack.split('\n')[0] ?? '?').replace(/^at /, '');
}

function describeSite(s: Site | undefined, verb: string): string {
  if (!s) return `${verb} before the verifier saw it`;
  return `${verb} by ${s.fn} at ${frame(s)}`;
}

/**
 * BUF-1: a lower driver (`who`) chains `buffer` (a buffer chain) to `packet`; every buffer must come
 * from NdisAllocateBuffer (an NDIS buffer pool). Only a highest-level protocol may chain OS MDLs
 * (NdisAllocateMdl, retreat allocations, the MDL of a NET_BUFFER…). Arguments the call itself
 * rejects (not a packet, not an MDL) are left to its own bug check. O(length of the chain).
 */
function checkBuf1(v: Verifier, fn: string, packet: unknown, buffer: unknown, who: { handle: number; what: string }): void {
  const rt = v.rt;
  if (typeof packet !== 'number' || packet >>> 0 !== packet || typeof buffer !== 'number' || buffer >>> 0 !== buffer) return;
  if (rt.wasm.packetCheck(packet, 0) >>> 0 !== E.OK) return;
  rt.sync();
  const seen = new Set<number>();
  for (let m = buffer, i = 0; m !== 0 && !seen.has(m); m = rt.rd32(m + MDL.Next), i++) {
    if (rt.liveIn(m, KIND.MDL) < E.LIMIT && rt.wasm.mdlCheck(m) >>> 0 !== E.OK) return; // the call reports it
    rt.sync();
    seen.add(m);
    const from = v.live.get(m)?.site.fn;
    if (from === 'NdisAllocateBuffer') continue;
    const which = i === 0 ? hexAddr(m) : `${hexAddr(m)} (buffer ${i} of the chain at ${hexAddr(buffer)})`;
    throw ruleViolation(fn, 'Buffer', 'BUF-1',
      `${which} is ${from ? `an MDL from ${from}` : 'not from NdisAllocateBuffer'}, and the caller is ${who.what}: lower drivers chain to packets only NDIS_BUFFERs from an NDIS buffer pool (NdisAllocateBuffer); only a highest-level protocol may chain OS MDLs`,
      m, packet, who.handle);
  }
}

/** Adds the allocation and free sites of `addr` to a use-after-free / double-free bug check. */
function withSites(v: Verifier, e: NdisBugCheck, addr: number): NdisBugCheck {
  const f = v.freed.get(addr);
  if (!f) return e;
  const [alloc, free] = f;
  Object.assign(e, { allocationSite: alloc, freeSite: free });
  e.message += ` — ${hexAddr(addr)} was ${describeSite(alloc, 'allocated')}; ${describeSite(free, 'freed')}`;
  return e;
}

/** Adds the leaked objects to a POOL-5 / POOL-6 bug check. */
function withLeaks(v: Verifier, e: NdisBugCheck, match: (r: Rec) => boolean): NdisBugCheck {
  const leaks = v.leaks().filter((l) => match({ site: l.allocated, pool: l.pool, owner: l.owner }));
  if (leaks.length === 0) return e;
  Object.assign(e, { leaks });
  e.message += `; leaked: ${leaks.slice(0, 8).map((l) => `${l.kind} ${hexAddr(l.address)} (${l.allocated.fn} at ${frame(l.allocated)})`).join(', ')}${leaks.length > 8 ? `, and ${leaks.length - 8} more` : ''}`;
  return e;
}

const verifiers = new WeakMap<RuntimeCore, Verifier>();

/** @internal The verifier of a runtime (undefined in normal mode). */
export function verifierOf(rt: RuntimeCore): Verifier | undefined {
  return verifiers.get(rt);
}

/**
 * @internal Turns verifier mode on for `rt`: quarantine in Wasm, then a checking wrapper over
 * every NDIS method named in `functions`.
 */
export function installVerifier(rt: RuntimeCore, functions: readonly string[], quarantine: number): void {
  if (!rt.wasm.quarantineEnable(quarantine, 1)) throw new RangeError(`ndis-pool: no memory for a quarantine of ${quarantine} objects`);
  const v = new Verifier(rt, Math.max(4096, quarantine * 4));
  verifiers.set(rt, v);
  // TIME-SEND on demand (RuntimeCore.checkTimers does nothing in a normal runtime).
  Object.defineProperty(rt, 'checkTimers', {
    value: function checkTimers(): void {
      checkSendTimers(rt, 'checkTimers');
    },
    writable: true, configurable: true, enumerable: false,
  });
  const target = rt as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of functions) {
    const plain = target[name];
    if (typeof plain !== 'function') continue;
    const rule = irqlRule(name);
    const alloc = ALLOCS[name];
    const freeArg = FREES[name];
    const releaseArg = HANDLE_RELEASES[name];
    const ndis5 = NDIS5.test(name) && !/^NDIS_(MDL|SET|GET)/.test(name) && !/SpinLock/.test(name);
    const chainsBuffer = name === 'NdisChainBufferAtFront' || name === 'NdisChainBufferAtBack';
    const wrapped = function (this: RuntimeCore, ...args: unknown[]): unknown {
      // IRQL rules.
      const s = irqlOf(rt);
      if (rule) {
        const [id, max, exact] = rule;
        if (exact ? s.irql !== max : s.irql > max) {
          throw ruleViolation(name, undefined, id, `called at IRQL ${s.irql}; it needs ${exact ? 'exactly' : 'at most'} ${max === PASSIVE_LEVEL ? 'PASSIVE_LEVEL' : 'DISPATCH_LEVEL'}`, s.irql);
        }
      }
      // NDIS5-IN-6: an NDIS 6 miniport (one of its handlers is the innermost caller) calling the
      // NDIS 5 packet and buffer API: bug check 0x7C, P1 0x15.
      if (ndis5 && runningDriver(rt) === 'miniport') {
        throw new NdisBugCheck(name, undefined, 'NDIS5-IN-6', BUGCODE_NDIS_DRIVER, [0x15, 0, 0, 0],
          'called from an NDIS 6 miniport handler: NDIS 6 miniports use NET_BUFFER_LISTs, not the NDIS 5 packet and buffer API');
      }
      // BUF-1: a lower driver chaining to a packet a buffer that is not from a buffer pool.
      if (chainsBuffer) {
        const who = runningLowerDriver(rt);
        if (who) checkBuf1(v, name, args[0], args[1], who);
      }
      if (LOCK5.has(name) && s.held !== 0) {
        throw ruleViolation(name, undefined, 'LOCK-5', `called with ${s.held} NDIS spin lock(s) held`, s.held);
      }
      // Releasing a handle that still has MDLs or memory blocks allocated with it.
      if (releaseArg !== undefined) {
        // Only for a live handle of the right kind: anything else gets the call's own bug check.
        const h = args[releaseArg];
        const kind = name === 'NdisFreeGenericObject' ? KIND.GENERIC : KIND.PROTOCOL;
        if (typeof h === 'number' && h !== 0 && rt.kindAt(h) === kind && rt.liveIn(h, kind) >= 0x10000) v.checkRelease(name, h);
      }
      // ALT-GEN: a miniport or filter driver deregistering while generic objects allocated with
      // its DriverObject are live.
      if (name === 'NdisMDeregisterMiniportDriver' || name === 'NdisFDeregisterFilterDriver') {
        const d = driverObjectOf(rt, args[0]);
        if (d !== 0) {
          const left = v.stillLive().filter(([a, r]) => r.owner === d && rt.kindAt(a) === KIND.GENERIC);
          if (left.length) {
            const err = ruleViolation(name, undefined, 'LEAK-GEN',
              `the driver (DriverObject ${hexAddr(d)}) still has ${left.length} NDIS_GENERIC_OBJECT(s) (ALT-GEN): ${left.slice(0, 8).map(([a, r]) => `${hexAddr(a)} (${r.site.fn} at ${frame(r.site)})`).join(', ')}`,
              args[0] as number, left.length, left[0]![0]);
            Object.assign(err, { leaks: left.map(([a]) => a) });
            throw err;
          }
        }
      }
      // Objects a free will release, read before the call.
      let freeing: number[] | null = null;
      if (freeArg !== undefined) freeing = [args[freeArg] as number];
      else if (name === 'freeNetBuffers' && args[0] instanceof Uint32Array) {
        const list = args[0];
        const n = args[1] ?? list.length;
        freeing = typeof n === 'number' && n >= 0 && n <= list.length ? [...list.subarray(0, n)] : [];
      } else if (name === 'freeNetBufferListChain' && typeof args[0] === 'number') {
        freeing = [];
        rt.sync();
        for (let p = args[0] as number, i = 0; p !== 0 && i < 1 << 20; p = rt.rd32(p + NBL.Next), i++) {
          if (rt.kindAt(p) !== KIND.NBL) break;
          freeing.push(p);
        }
      }
      const bulkAlloc = name === 'allocateNetBuffersMdlAndData';
      const site = alloc || freeing || bulkAlloc ? Verifier.site(name) : null;
      let result: unknown;
      try {
        result = plain.apply(this, args);
      } catch (err) {
        if (err instanceof NdisBugCheck) {
          const rid = err.rule as string;
          if (rid.startsWith('ALT-') || rid === 'NBL-FREE-1' || rid === 'PKT-1') {
            const addr = err.parameters[0] === 0x07 ? err.parameters[3] : err.parameters[1];
            throw withSites(v, err, addr);
          }
          if (rid === 'POOL-5') throw withLeaks(v, err, (r) => r.pool === (args[0] as number));
          if (rid === 'POOL-6') throw v.explainPool6(err, args[0] as number);
        }
        throw err;
      }
      if (alloc) {
        const addr = alloc.out < 0 ? (result as number) : ((args[alloc.out] as { value?: number })?.value ?? 0);
        if (addr) v.allocated(addr >>> 0, { site: site!, pool: alloc.pool !== undefined ? (args[alloc.pool] as number) : 0, owner: alloc.owner !== undefined ? (args[alloc.owner] as number) : 0 });
      } else if (freeing) {
        for (const a of freeing) v.released(a >>> 0, site!);
      } else if (bulkAlloc) {
        const out = args[1] as Uint32Array;
        for (let i = 0; i < (result as number); i++) v.allocated(out[i]! >>> 0, { site: site!, pool: args[0] as number, owner: 0 });
      }
      return result;
    };
    Object.defineProperty(wrapped, 'name', { value: name });
    Object.defineProperty(rt, name, { value: wrapped, writable: true, configurable: true, enumerable: false });
  }
}
