/**
 * Multi-worker runtimes (issue 10): one shared `WebAssembly.Memory` holds all allocator state;
 * every worker runs its own instance of the threads build of the module on it.
 *
 * Thread safety: a runtime lock word in the root block (assembly/pages.ts R_LOCK) serialises the
 * module's exports. JS takes it around every export call of a multi-worker runtime (this file);
 * the lock-free exports (worker caches `wc*`, cross-worker rings `xr*`: LOCK_FREE) touch only
 * state their worker owns, or use atomics, and take the lock inside Wasm on their slow paths. The
 * protocol is Drepper's three-state mutex, the same here and in Wasm.
 *
 * A worker terminated (`worker.terminate()`) in the middle of a locked call leaves the lock held
 * and every other worker waiting: end workers by letting them return (and `detach()`).
 */
import type { WasmExports } from './core.js';

/** assembly/pages.ts R_LOCK: offset of the runtime lock in the root block. */
export const ROOT_LOCK_OFFSET = 68;
/** assembly/pages.ts R_WORKERS: instances attached to the memory. */
export const ROOT_WORKERS_OFFSET = 72;

/** What `runtime.share()` returns: post it to a worker and pass it to `attachRuntime`. */
export interface SharedRuntimeDescriptor {
  readonly kind: 'ndis-pool/shared-runtime';
  /** The compiled threads build of the module (structured-cloneable). */
  readonly module: WebAssembly.Module;
  /** The shared memory (structured-cloneable; backed by a SharedArrayBuffer). */
  readonly memory: WebAssembly.Memory;
  /** Address of the runtime's root block. */
  readonly root: number;
  readonly verifier: boolean;
}

/** True when this thread may block in Atomics.wait (not on a browser's main thread). */
export function canBlock(): boolean {
  const g = globalThis as { document?: unknown; WorkerGlobalScope?: unknown };
  // Browsers forbid Atomics.wait on the main (window) thread; Node allows it everywhere.
  return !(typeof g.document !== 'undefined' && typeof g.WorkerGlobalScope === 'undefined');
}

/**
 * Exports that never take the lock in JS: the lock-free data paths (worker caches, cross-worker
 * rings), which take it inside Wasm on their slow paths, and readers of this instance's own
 * globals. An explicit list: a new export is locked unless it is added here.
 */
const LOCK_FREE = new Set([
  'wcAlloc', 'wcFree', 'wcAllocMany', 'wcFreeMany', 'cacheErrIndex',
  'wcNbAlloc', 'wcNbFree', 'cacheMissPool',
  'xrEnqueue', 'xrDequeue', 'xrSetCanWait',
  // The vNIC hub's DPC and uplink drain touch only the calling worker's hub, NICs and NBLs, the
  // uplink's rings and the worker's frame cache (which lock inside Wasm when they must).
  'hubDpc', 'hubUplinkDrain',
  'nop', 'lockAcquire', 'lockRelease', 'lockSetCanWait', 'errPtr', 'errDetail', 'lastResult', 'pkResult', 'dsResult', 'layout',
]);

/** The runtime lock of the runtime whose root block is at `root` in `memory`, for this thread. */
export function runtimeLock(memory: WebAssembly.Memory, root: number): RuntimeLock {
  return new RuntimeLock(new Int32Array(memory.buffer), (root + ROOT_LOCK_OFFSET) >>> 2, canBlock());
}

/** The lock, from JS: the same word and protocol as assembly/pages.ts lockAcquire/lockRelease. */
export class RuntimeLock {
  constructor(
    private readonly i32: Int32Array,
    private readonly idx: number,
    private readonly mayWait: boolean,
  ) {}

  acquire(): void {
    const a = this.i32;
    const i = this.idx;
    let c = Atomics.compareExchange(a, i, 0, 1);
    if (c === 0) return;
    for (let n = 0; n < 200; n++) {
      if (Atomics.load(a, i) === 0 && (c = Atomics.compareExchange(a, i, 0, 1)) === 0) return;
    }
    if (c !== 2) c = Atomics.exchange(a, i, 2);
    while (c !== 0) {
      if (this.mayWait) Atomics.wait(a, i, 2, 1);
      c = Atomics.exchange(a, i, 2);
    }
  }

  release(): void {
    const a = this.i32;
    const i = this.idx;
    if (Atomics.sub(a, i, 1) !== 1) {
      Atomics.store(a, i, 0);
      Atomics.notify(a, i, 1);
    }
  }
}

type Fn = (...args: number[]) => number;

/**
 * Wraps every export of `x` that is not lock-free so that it runs under `lock`. Wrappers are
 * made per arity (no rest arguments on the call path); `gate` runs first (it throws once the
 * runtime is detached).
 */
export function lockedExports(x: WasmExports, lock: RuntimeLock, gate: () => void): WasmExports {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(x as unknown as Record<string, unknown>)) {
    if (typeof v !== 'function') { out[name] = v; continue; }
    const f = v as Fn;
    if (LOCK_FREE.has(name)) {
      switch (f.length) {
        case 0: out[name] = () => { gate(); return f(); }; break;
        case 1: out[name] = (a: number) => { gate(); return f(a); }; break;
        case 2: out[name] = (a: number, b: number) => { gate(); return f(a, b); }; break;
        case 3: out[name] = (a: number, b: number, c: number) => { gate(); return f(a, b, c); }; break;
        case 4: out[name] = (a: number, b: number, c: number, d: number) => { gate(); return f(a, b, c, d); }; break;
        default: out[name] = (...args: number[]) => { gate(); return f(...args); };
      }
      continue;
    }
    switch (f.length) {
      case 0: out[name] = () => { gate(); lock.acquire(); try { return f(); } finally { lock.release(); } }; break;
      case 1: out[name] = (a: number) => { gate(); lock.acquire(); try { return f(a); } finally { lock.release(); } }; break;
      case 2: out[name] = (a: number, b: number) => { gate(); lock.acquire(); try { return f(a, b); } finally { lock.release(); } }; break;
      case 3: out[name] = (a: number, b: number, c: number) => { gate(); lock.acquire(); try { return f(a, b, c); } finally { lock.release(); } }; break;
      case 4: out[name] = (a: number, b: number, c: number, d: number) => { gate(); lock.acquire(); try { return f(a, b, c, d); } finally { lock.release(); } }; break;
      default: out[name] = (...args: number[]) => { gate(); lock.acquire(); try { return f(...args); } finally { lock.release(); } };
    }
  }
  return out as unknown as WasmExports;
}

/** @internal Per-worker state of a multi-worker runtime. */
export interface WorkerState {
  readonly lock: RuntimeLock;
  /** This instance's worker id (1: the worker that created the runtime). */
  readonly id: number;
  /** The root block address (for share()). */
  readonly root: number;
  detached: boolean;
  /** The bug check for a call after detach. */
  readonly detachedError: () => Error;
  /** The raw (unlocked) exports, for the lock-free paths and detach. */
  readonly raw: WasmExports;
}

/**
 * Makes the multi-worker state of a new instance: its locked exports (taking `lock`), whose
 * gate throws `detachedError()` once the worker is detached.
 */
export function workerState(raw: WasmExports, lock: RuntimeLock, root: number, id: number, detachedError: () => Error): [WasmExports, WorkerState] {
  const state: WorkerState = { lock, id, root, detached: false, detachedError, raw };
  const gate = () => { if (state.detached) throw detachedError(); };
  return [lockedExports(raw, lock, gate), state];
}
