/**
 * The runtime core: loads and instantiates the Wasm module (Node and browsers), keeps the
 * memory views fresh across `memory.grow`, validates arguments and turns the Wasm side's error
 * codes into {@link NdisBugCheck}s. The NDIS mirror (src/ndis/*) and the idiomatic pool
 * (src/pool.ts) are built on this class; `NdisRuntime` (src/runtime.ts) is the public face.
 */
import { U32Map } from './ndis/u32map.js';
import { NdisBugCheck, BUGCODE_BAD_POOL_CALLER, badParam, ruleViolation, hexAddr, type RuleId } from './errors.js';
import { E, KIND, POOL, ROOT, SLAB, TAG_SET, UNIT_SHIFT, PAGE_SIZE, ROOT_FAULT_OFFSET } from './ndis/layout.js';
import { ROOT_WORKERS_OFFSET } from './shared.js';
import { tagToString } from './ndis/constants.js';

/** The flat exports of the Wasm module (assembly/index.ts). u32 values arrive as i32. */
export interface WasmExports {
  memory?: WebAssembly.Memory;
  init(maxPages: number): number;
  attach(root: number, canWait: number): number;
  detachWorker(): number;
  lockAcquire(): void;
  lockRelease(): void;
  lockSetCanWait(canWait: number): void;
  cacheOpen(pool: number, worker: number, size: number): number;
  cacheClose(cache: number): void;
  cachesDetach(worker: number): number;
  cacheSums(pool: number): number;
  cacheSumAllocs(): bigint;
  cacheSumFrees(): bigint;
  cacheErrIndex(): number;
  wcAlloc(cache: number): number;
  wcFree(cache: number, ptr: number): number;
  wcAllocMany(cache: number, out: number, n: number): number;
  wcAllocManyLocal(cache: number, out: number, n: number): number;
  cacheTrim(cache: number): number;
  slabCached(slab: number): number;
  wcFreeMany(cache: number, ptrs: number, n: number): number;
  cacheOpenNb(pool: number, worker: number, size: number): number;
  cacheMissPool(): number;
  wcNbAlloc(pool: number): number;
  wcNbFree(nb: number): number;
  resetAll(): void;
  slabTable(): number;
  rootPool(i: number): number;
  errPtr(): number;
  errDetail(): number;
  layout(which: number): number;
  nop(x: number): number;
  benchAllocFreeLoop(pool: number, rounds: number, batch: number, scratch: number, checked: number): number;
  spAlloc(pool: number): number;
  spFree(pool: number, ptr: number): number;
  spAllocMany(pool: number, out: number, n: number): number;
  spFreeMany(pool: number, ptrs: number, n: number): number;
  spFreeU(pool: number, ptr: number): number;
  spFreeManyU(pool: number, ptrs: number, n: number): number;
  slabPoolCreate(objectSize: number, tag: number, maxOut: number): number;
  slabPoolDestroy(pool: number, force: number): number;
  poolSetMax(pool: number, max: number): void;
  liveObjects(rootPool: number, out: number, max: number): number;
  liveNext(rootPool: number, after: number): number;
  protocolRegister(context: number, versions: number, flags: number, charsId: number): number;
  protocolDeregister(h: number): number;
  protocolCharsId(h: number): number;
  ownedPools(h: number): number;
  memoryAllocate(handle: number, len: number, tag: number): number;
  memoryFree(handle: number, va: number, tag: number): number;
  genericAllocate(driverObject: number, tag: number, size: number): number;
  genericFree(obj: number): number;
  mdlAllocate(handle: number, va: number, len: number): number;
  mdlFree(mdl: number): number;
  mdlCheck(mdl: number): number;
  nbPoolCreate(owner: number, tag: number, dataSize: number, flags: number): number;
  nbPoolFree(h: number): number;
  nbAllocate(h: number, mdl: number, off: number, len: number): number;
  nbAllocateMdlAndData(h: number): number;
  nbFree(nb: number): number;
  nbAllocateMdlAndDataMany(h: number, out: number, n: number): number;
  nbFreeMany(ptrs: number, n: number, commit: number): number;
  nbPool(nb: number): number;
  nbCheck(nb: number): number;
  nbAdjustCurrent(nb: number): void;
  chainCheck(mdl: number): number;
  rangeCheck(va: number, len: number): number;
  classSize(c: number): number;
  nblPoolCreate(owner: number, tag: number, dataSize: number, flags: number, packed: number): number;
  nblPoolFree(h: number): number;
  nblAllocate(h: number, ctxSize: number, ctxBackFill: number): number;
  nblAllocateWithNb(h: number, ctxSize: number, ctxBackFill: number, mdl: number, off: number, len: number): number;
  nblFree(nbl: number): number;
  nblPool(nbl: number): number;
  nblCheck(nbl: number): number;
  nblFreeChain(head: number): number;
  nblCountChain(head: number): number;
  nbCountChain(head: number): number;
  ctxAllocate(nbl: number, size: number, backFill: number, tag: number): number;
  ctxFree(nbl: number, size: number): number;
  preallocNb(nb: number): number;
  embeddedMdl(mdl: number): number;
  lastResult(): number;
  nbRetreatFast(nb: number, delta: number): number;
  retreatAllocDefault(size: number): number;
  retreatFreeDefault(mdl: number): number;
  retreatReleaseHandlerMdl(mdl: number): void;
  nbPrepend(nb: number, mdl: number, delta: number, flags: number): number;
  nbAdvance(nb: number, delta: number, freeMdl: number, haveHandler: number): number;
  nbAdvanceCheck(nb: number, delta: number, freeMdl: number, haveHandler: number): number;
  nbAdjust(nb: number): number;
  nbGetDataBuffer(nb: number, n: number, storage: number, alignMul: number, alignOff: number): number;
  nbCopy(dst: number, dstOff: number, bytes: number, src: number, srcOff: number): number;
  nbPhysicalCount(nb: number): number;
  dsResult(): number;
  packetSize(len: number): number;
  packetPoolCreate(num: number, overflow: number, len: number): number;
  packetPoolFree(h: number): number;
  packetPoolCheck(h: number, arg: number): number;
  packetPoolSetProtocolId(h: number, id: number): number;
  packetAllocate(h: number): number;
  packetCheck(p: number, arg: number): number;
  packetFree(p: number): number;
  bufferPoolCreate(num: number): number;
  bufferPoolFree(h: number): number;
  bufferAllocate(h: number, va: number, len: number): number;
  bufferFree(b: number): number;
  chainAtFront(p: number, b: number): number;
  chainAtBack(p: number, b: number): number;
  unchainAtFront(p: number): number;
  unchainAtBack(p: number): number;
  packetReinitialize(p: number): number;
  packetQuery(p: number): number;
  packetPoolOverflowInUse(h: number): number;
  pkResult(): number;
  faultsSet(threshold: number, seed: number): void;
  faultsInjected(): number;
  ringCreate(capacity: number): number;
  ringCheck(h: number): number;
  ringDestroy(h: number): number;
  ringBase(h: number): number;
  ringEnqueue(h: number, src: number, n: number, bulk: number): number;
  ringDequeue(h: number, out: number, n: number, bulk: number): number;
  ringBenchLoop(h: number, buf: number, rounds: number, burst: number): number;
  sizeClass(len: number): number;
  memoryBytes(): bigint;
  unitsOwned(): number;
  unitsFreeCount(): number;
  unitsTop(): number;
  maxPagesGet(): number;
  genEnable(pool: number, indexBits: number): number;
  genAlloc(pool: number): number;
  genFree(pool: number, h: number): number;
  genPtr(pool: number, h: number): number;
  genAllocMany(pool: number, out: number, n: number): number;
  genFreeMany(pool: number, hs: number, n: number): number;
  genNextLive(pool: number, after: number): number;
  genTable(pool: number): number;
  quarantineEnable(capacity: number, all: number): number;
  quarantinePool(pool: number): number;
  quarantineCount(): number;
  hubCreate(): number;
  hubCheck(h: number): number;
  hubDestroy(h: number): number;
  nicCreate(tcbCap: number, rcbCap: number, adapter: number): number;
  nicCheck(n: number): number;
  nicHeld(n: number): number;
  nicDestroy(n: number): number;
  nicAttach(n: number, h: number): number;
  nicDetach(n: number): number;
  nicSetReady(n: number, ready: number): number;
  nicPostRecv(n: number, nbl: number): number;
  nicPostRecvChain(n: number, head: number): number;
  nicSend(n: number, head: number): number;
  nicTakeImmediate(): number;
  hubDpc(h: number, budget: number): number;
  hubUplink(h: number, tx: number, rx: number, cache: number): number;
  hubUplinkDrain(h: number): number;
  nicTakeDone(n: number): number;
  nicTakeRx(n: number): number;
  nicStop(n: number, status: number): number;
  nicUnpostRecv(n: number): number;
  nicCancel(n: number, id: number, status: number): number;
  heapReserve(bytes: number): number;
  // Cross-worker descriptor rings (assembly/xring.ts; src/xring.ts). xr*: lock-free.
  sharedRingCreate(capacity: number, flags: number): number;
  sharedRingCheck(h: number): number;
  sharedRingDestroy(h: number): number;
  sharedRingWaiter(h: number, side: number, delta: number): number;
  xrSetCanWait(canWait: number): void;
  xrEnqueue(h: number, src: number, n: number, bulk: number): number;
  xrDequeue(h: number, out: number, n: number, bulk: number): number;
}

/** Options of {@link createRuntime} and {@link createRuntimeSync}. */
export interface RuntimeOptions {
  /**
   * Most linear memory the runtime may use, in bytes (rounded down to 64 KiB pages). Allocations
   * beyond it return NULL. Default 1 GiB; at most 4 GiB.
   */
  maxMemory?: number;
  /**
   * Verifier mode (DESIGN D7, README "Verifier mode"): freed objects are poisoned and
   * quarantined, allocation and free sites are recorded, IRQL rules are checked. Slower; off by
   * default.
   */
  verifier?: boolean;
  /** Verifier mode: frees an object waits in quarantine before its slot is reused (a power of two, default 1024). */
  quarantine?: number;
  /**
   * Back the runtime with a shared `WebAssembly.Memory` (a SharedArrayBuffer), so that views from
   * `runtime.bytes()` stay valid when memory grows. Default: true where SharedArrayBuffer is
   * usable (Node; cross-origin-isolated pages), false elsewhere.
   */
  sharedMemory?: boolean;
  /**
   * A multi-worker runtime (README "Workers"): the threads build on a shared memory, with every
   * export serialised by the runtime lock so that `runtime.share()` can hand it to other workers
   * (`attachRuntime`). Implies `sharedMemory: true`. Default false.
   */
  shared?: boolean;
  /**
   * Where to load the Wasm module from instead of the copy inside the package: typically the URL
   * of `ndis-pool/ndis.wasm`, which `createRuntime` compiles while it downloads (streaming) when
   * the server sends `application/wasm`; also a fetch `Response` (or its promise), the bytes, a
   * compiled `WebAssembly.Module`, or in Node a file path. `ndis.wasm` owns its memory, so with
   * this option `sharedMemory` defaults to false; for `sharedMemory: true` pass
   * `ndis-pool/ndis-shared.wasm`. `createRuntimeSync` takes bytes, a module or a file path.
   */
  wasm?: WasmSource;
  /**
   * Verifier mode: the clock of the send-completion deadlines (TIME-SEND), in milliseconds.
   * Default `performance.now()`; tests pass a virtual clock. Also `runtime.clock`.
   */
  clock?: () => number;
}

/** One row of {@link RuntimeCore.poolmon}: per-tag statistics, as Windows poolmon shows them. */
export interface PoolmonRow {
  /** The tag as poolmon shows it (memory order). */
  tag: string;
  /** The tag value. */
  tagValue: number;
  /** What the tag's pools hold (NB, SlabPool, Memory, GenericObject, MDL). */
  type: string;
  allocs: number;
  frees: number;
  /** allocs - frees. */
  outstanding: number;
  /** Slot bytes of the live objects. */
  bytes: number;
  /** Highest outstanding count reached by any one pool under this tag (live or freed). */
  peak: number;
  /** NULL returns (pool limit, memory budget). */
  failures: number;
  /** Live pools under this tag. */
  pools: number;
}

/** Statistics of one pool (not for the data path). */
export interface PoolStats {
  tag: string;
  tagValue: number;
  /** Slot size in bytes (the requested size rounded up to 8). */
  objectSize: number;
  allocs: number;
  frees: number;
  outstanding: number;
  peak: number;
  failures: number;
  /** Slot bytes of live objects. */
  bytes: number;
  /** Slabs the pool holds (including its one spare). */
  slabs: number;
  /** Bytes of linear memory the pool's slabs cover. */
  slabBytes: number;
  /** Outstanding limit (Infinity when none). */
  maxOutstanding: number;
}

/** One pool's row of {@link RuntimeCore.memoryReport}. */
export interface PoolReport {
  /** The pool's handle (descriptor address): `SlabPool.handle`, an NDIS pool handle… */
  handle: number;
  tag: string;
  /** What the pool holds, as poolmon names it ('SlabPool', 'NB', 'NBL', 'Memory'…; 'Internal' for descriptors). */
  type: string;
  /** Slot size in bytes (0 for pools of variable-size large blocks). */
  objectSize: number;
  /** Live objects. */
  live: number;
  /** Slots in the pool's slabs. */
  capacity: number;
  slabs: number;
  fullSlabs: number;
  /** Slabs partly used: the fragmentation a long-lived mix of frees leaves. */
  partialSlabs: number;
  /** Empty slabs kept (a pool keeps its current slab and one spare). */
  emptySlabs: number;
  /** Linear memory the slabs cover. */
  slabBytes: number;
  /** Slot bytes of live objects. */
  usedBytes: number;
  /** slabBytes - usedBytes: free slots, slab metadata and tail waste. */
  unusedBytes: number;
  /** unusedBytes / slabBytes, 0 .. 1 (0 without slabs). */
  fragmentation: number;
}

/** Result of {@link RuntimeCore.memoryReport}. */
export interface MemoryReport {
  /** Linear memory size now. */
  memoryBytes: number;
  /** Slab memory the page source owns (in slabs or free for new slabs). */
  slabBytes: number;
  /** Of it, not in any slab (reusable by any pool). */
  freeSlabBytes: number;
  maxMemory: number;
  /** Slot bytes of live objects, all pools. */
  usedBytes: number;
  /** Bytes in pool slabs not holding live objects, all pools. */
  unusedBytes: number;
  pools: PoolReport[];
}

const KIND_NAMES: Record<number, string> = {
  [KIND.NB_POOL]: 'NET_BUFFER pool handle',
  [KIND.SLAB_POOL]: 'SlabPool handle',
  [KIND.MEM_POOL]: 'internal pool descriptor',
  [KIND.TAG_SET]: 'internal tag set',
  [KIND.PROTOCOL]: 'protocol driver handle',
  [KIND.NB]: 'NET_BUFFER',
  [KIND.SLAB_OBJ]: 'SlabPool object',
  [KIND.MEMORY]: 'NdisAllocateMemoryWithTagPriority block',
  [KIND.GENERIC]: 'NDIS_GENERIC_OBJECT',
  [KIND.MDL]: 'MDL',
  [KIND.NBL_POOL]: 'NET_BUFFER_LIST pool handle',
  [KIND.NBL]: 'NET_BUFFER_LIST',
  [KIND.PACKET_POOL]: 'packet pool handle',
  [KIND.BUFFER_POOL]: 'buffer pool handle',
  [KIND.PACKET]: 'NDIS_PACKET',
  [KIND.RING]: 'descriptor ring',
  [KIND.HTABLE]: 'SlabPool handle table',
  [KIND.NIC]: 'virtual NIC or hub record',
  [KIND.WCACHE]: 'worker cache',
};

const TYPE_NAMES: Record<number, string> = {
  [KIND.NB]: 'NB',
  [KIND.SLAB_OBJ]: 'SlabPool',
  [KIND.MEMORY]: 'Memory',
  [KIND.GENERIC]: 'GenericObject',
  [KIND.MDL]: 'MDL',
  [KIND.NBL]: 'NBL',
  [KIND.PACKET]: 'Packet',
  [KIND.RING]: 'Ring',
  [KIND.HTABLE]: 'HandleTable',
  [KIND.NIC]: 'vNIC',
  [KIND.WCACHE]: 'WorkerCache',
};

/** The rule a use-after-free or double free of each kind of object breaks. */
const ALT_RULES: Record<number, RuleId> = {
  [KIND.NB]: 'ALT-NB',
  [KIND.MDL]: 'ALT-MDL',
  [KIND.GENERIC]: 'ALT-GEN',
  [KIND.NB_POOL]: 'ALT-POOL',
  [KIND.SLAB_POOL]: 'ALT-POOL',
  [KIND.SLAB_OBJ]: 'ALT-POOL',
  [KIND.MEMORY]: 'ALT-MEM',
  [KIND.NBL]: 'ALT-NBL',
  [KIND.NBL_POOL]: 'ALT-POOL',
  [KIND.PACKET]: 'PKT-1',
  [KIND.PACKET_POOL]: 'ALT-POOL',
  [KIND.BUFFER_POOL]: 'ALT-POOL',
};

export function kindName(kind: number): string {
  return KIND_NAMES[kind] ?? `object of kind ${kind}`;
}

const DEFAULT_MAX_MEMORY = 1 << 30;
/** assembly/pages.ts R_GROWS: offset of the growth counter in the runtime root block. */
const ROOT_GROWS_OFFSET = 40;
/** assembly/pages.ts R_CACHES: offset of the list of cache blocks in the root block. */
const ROOT_CACHES_OFFSET = 80;
const MAX_PAGES = 65536;
/** The runtime's own tables take about 300 KiB; below 1 MiB no pool would fit. */
const MIN_MAX_MEMORY = 1 << 20;

// -- Module loading ------------------------------------------------------------------------------

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** True when a shared memory can be created here. */
export function sharedMemorySupported(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  const g = globalThis as { crossOriginIsolated?: boolean };
  if (g.crossOriginIsolated === false) return false;
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * Where a runtime's Wasm module comes from (`RuntimeOptions.wasm`): the URL of the package's
 * `ndis-pool/ndis.wasm` (fetched and compiled while it downloads when the server sends
 * `application/wasm`; in Node a `file:` URL or a path is read from disk), a fetch `Response` or a
 * promise of one, the module's bytes, or a compiled `WebAssembly.Module`.
 */
export type WasmSource = string | URL | Response | PromiseLike<Response> | ArrayBuffer | ArrayBufferView | WebAssembly.Module;

/**
 * The Wasm modules of the bundled build. rollup.config.mjs replaces the `null` after the marker
 * comment with the base64 text of build/release.wasm and build/release-shared.wasm, so dist/
 * needs no file, server or bundler configuration. build/ts (tsc) keeps `null` and loads the
 * `.wasm` files next to it.
 */
const INLINE_WASM: { plain: string; shared: string } | null = /* @ndis-pool:inline-wasm */ null;

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function wasmUrl(shared: boolean): URL {
  return new URL(shared ? '../release-shared.wasm' : '../release.wasm', import.meta.url);
}

const moduleCache = new Map<boolean, WebAssembly.Module | Promise<WebAssembly.Module>>();

/** A Node built-in, without a static import (the same file runs in browsers). */
function nodeBuiltin<T>(id: string, what: string): T {
  const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (!getBuiltin) throw new Error(`ndis-pool: ${what} needs Node >= 20.16 (process.getBuiltinModule)`);
  return getBuiltin(id) as T;
}

function nodeFs(what: string): { readFileSync(p: URL): Uint8Array<ArrayBuffer> } {
  return nodeBuiltin('node:fs', what);
}

/** The bytes of the module for the memory kind, when they can be had without waiting. */
function bundledBytesSync(shared: boolean): Uint8Array<ArrayBuffer> | null {
  if (INLINE_WASM) return fromBase64(shared ? INLINE_WASM.shared : INLINE_WASM.plain);
  if (isNode) return nodeFs('createRuntimeSync').readFileSync(wasmUrl(shared));
  return null;
}

/**
 * The URL a `string` source names: in Node a path unless it has a URL scheme (`file:`, `http:`,
 * `https:`, `data:`, `blob:`); in a browser a URL relative to the page.
 */
function sourceUrl(s: string): URL {
  if (isNode && !/^(?:file|https?|data|blob):/i.test(s)) {
    return nodeBuiltin<{ pathToFileURL(p: string): URL }>('node:url', 'a wasm path').pathToFileURL(s);
  }
  const g = globalThis as { document?: { baseURI?: string }; location?: { href: string } };
  return new URL(s, g.document?.baseURI ?? g.location?.href);
}

function isBytes(s: unknown): s is ArrayBuffer | ArrayBufferView {
  return s instanceof ArrayBuffer || ArrayBuffer.isView(s);
}

function isResponseLike(s: unknown): s is Response {
  return typeof s === 'object' && s !== null && typeof (s as Response).arrayBuffer === 'function' && 'headers' in s;
}

function badSource(fn: string, s: unknown, what: string): NdisBugCheck {
  return badParam(fn, 'options.wasm', s, what);
}

/** Compiles a fetched module, while it downloads when the server says `application/wasm`. */
async function compileResponse(res: Response, label: string): Promise<WebAssembly.Module> {
  if (!res.ok) throw new Error(`ndis-pool: cannot load ${res.url || label}: HTTP ${res.status}`);
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/wasm' && typeof WebAssembly.compileStreaming === 'function') return WebAssembly.compileStreaming(res);
  return WebAssembly.compile(await res.arrayBuffer());
}

async function compileSource(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (isBytes(source)) return WebAssembly.compile(source as BufferSource);
  if (typeof source === 'string' || source instanceof URL) {
    const url = typeof source === 'string' ? sourceUrl(source) : source;
    if (isNode && url.protocol === 'file:') return WebAssembly.compile(nodeFs('a file: URL').readFileSync(url));
    return compileResponse(await fetch(url), url.href);
  }
  if (isResponseLike(source)) return compileResponse(source, 'the Response');
  if (typeof (source as PromiseLike<Response>)?.then === 'function') {
    const res = await source;
    if (!isResponseLike(res)) throw badSource('createRuntime', res, 'a Response (the promise resolved to something else)');
    return compileResponse(res, 'the Response');
  }
  throw badSource('createRuntime', source, 'a URL, a path, a Response (or its promise), bytes or a WebAssembly.Module');
}

function compileSourceSync(source: WasmSource): WebAssembly.Module {
  if (source instanceof WebAssembly.Module) return source;
  if (isBytes(source)) return new WebAssembly.Module(source as BufferSource);
  if (isNode && (typeof source === 'string' || source instanceof URL)) {
    const url = typeof source === 'string' ? sourceUrl(source) : source;
    if (url.protocol === 'file:') return new WebAssembly.Module(nodeFs('a file: URL').readFileSync(url));
  }
  throw badSource('createRuntimeSync', source, 'bytes, a WebAssembly.Module or (in Node) a file path or file: URL; use createRuntime() to fetch a URL');
}

/**
 * Compiles the module for the memory kind synchronously: the inlined bytes (dist/; fine on a
 * browser's main thread, the module is far below the 8 MB limit there), the file next to
 * build/ts (Node), or `source` (options.wasm).
 */
export function compileSync(shared: boolean, source?: WasmSource): WebAssembly.Module {
  if (source !== undefined) return compileSourceSync(source);
  const cached = moduleCache.get(shared);
  if (cached instanceof WebAssembly.Module) return cached;
  const bytes = bundledBytesSync(shared);
  if (!bytes) throw new Error('ndis-pool: createRuntimeSync needs the bundled build (dist/) or Node; use createRuntime() here');
  const mod = new WebAssembly.Module(bytes);
  moduleCache.set(shared, mod);
  return mod;
}

/**
 * Compiles the module for the memory kind (once per process): the inlined bytes (dist/), the
 * file next to build/ts (Node), a fetch of it relative to the module (browsers, streaming when
 * served as `application/wasm`), or `source` (options.wasm, not cached).
 */
export async function compileAsync(shared: boolean, source?: WasmSource): Promise<WebAssembly.Module> {
  if (source !== undefined) return compileSource(source);
  const cached = moduleCache.get(shared);
  if (cached) return cached;
  const p = (async () => {
    if (INLINE_WASM) return WebAssembly.compile(fromBase64(shared ? INLINE_WASM.shared : INLINE_WASM.plain));
    const url = wasmUrl(shared);
    if (isNode && url.protocol === 'file:') return new WebAssembly.Module(nodeFs('createRuntime').readFileSync(url));
    return compileResponse(await fetch(url), url.href);
  })();
  moduleCache.set(shared, p);
  try {
    const mod = await p;
    moduleCache.set(shared, mod);
    return mod;
  } catch (e) {
    moduleCache.delete(shared);
    throw e;
  }
}

/** Checks options; returns [maxPages, shared, verifier, wasm]. */
export function resolveOptions(options: RuntimeOptions | undefined): [number, boolean, boolean, WasmSource | undefined] {
  const o = options ?? {};
  if (typeof o !== 'object') throw badParam('createRuntime', 'options', o, 'an object');
  let maxPages = DEFAULT_MAX_MEMORY / PAGE_SIZE;
  if (o.maxMemory !== undefined) {
    const m = o.maxMemory;
    if (typeof m !== 'number' || !Number.isInteger(m) || m < MIN_MAX_MEMORY || m > MAX_PAGES * PAGE_SIZE) {
      throw badParam('createRuntime', 'options.maxMemory', m, `an integer number of bytes in [${MIN_MAX_MEMORY} (1 MiB), 4 GiB]`);
    }
    maxPages = Math.floor(m / PAGE_SIZE);
  }
  if (o.verifier !== undefined && typeof o.verifier !== 'boolean') throw badParam('createRuntime', 'options.verifier', o.verifier, 'a boolean');
  if (o.sharedMemory !== undefined && typeof o.sharedMemory !== 'boolean') {
    throw badParam('createRuntime', 'options.sharedMemory', o.sharedMemory, 'a boolean');
  }
  if (o.shared !== undefined && typeof o.shared !== 'boolean') throw badParam('createRuntime', 'options.shared', o.shared, 'a boolean');
  if (o.clock !== undefined && typeof o.clock !== 'function') throw badParam('createRuntime', 'options.clock', o.clock, 'a function returning milliseconds');
  if (o.shared && o.sharedMemory === false) {
    throw badParam('createRuntime', 'options.sharedMemory', false, 'true (or absent) with options.shared: a multi-worker runtime needs a shared memory');
  }
  const wasm = o.wasm;
  if (wasm !== undefined && (wasm === null || (typeof wasm !== 'string' && typeof wasm !== 'object'))) {
    throw badParam('createRuntime', 'options.wasm', wasm, 'a URL, a path, a Response (or its promise), bytes or a WebAssembly.Module');
  }
  // ndis.wasm (the module users are given) owns its memory: with options.wasm, unshared unless asked.
  const shared = o.shared ? true : o.sharedMemory ?? (wasm === undefined ? sharedMemorySupported() : false);
  if (shared && !sharedMemorySupported()) {
    throw new Error('ndis-pool: sharedMemory requested but SharedArrayBuffer is not available (a browser page must be cross-origin isolated)');
  }
  return [maxPages, shared, o.verifier ?? false, wasm];
}

/** Instantiates a compiled module with its memory. */
export function instantiate(mod: WebAssembly.Module, shared: boolean, maxPages: number): [WasmExports, WebAssembly.Memory, number] {
  const importsMemory = WebAssembly.Module.imports(mod).some((i) => i.kind === 'memory');
  if (importsMemory !== shared) {
    throw new Error(shared
      ? 'ndis-pool: sharedMemory is true but the module owns its memory (ndis.wasm); pass ndis-shared.wasm, or sharedMemory: false'
      : 'ndis-pool: the module imports a shared memory (ndis-shared.wasm); pass sharedMemory: true, or ndis.wasm');
  }
  let memory: WebAssembly.Memory | undefined;
  const imports: WebAssembly.Imports = {};
  if (shared) {
    memory = new WebAssembly.Memory({ initial: 2, maximum: maxPages, shared: true });
    imports.env = { memory };
  }
  const inst = new WebAssembly.Instance(mod, imports);
  const x = inst.exports as unknown as WasmExports;
  if (!memory) memory = x.memory!;
  const root = x.init(maxPages) >>> 0;
  if (!root) throw new Error('ndis-pool: maxMemory is too small for the runtime itself');
  return [x, memory, root];
}

// -- The core class ------------------------------------------------------------------------------

/** Base of NdisRuntime: memory views, validation and error decoding. */
export class RuntimeCore {
  /** The Wasm exports (raw; prefer the NDIS and SlabPool APIs). */
  readonly wasm: WasmExports;
  /** The runtime's linear memory. */
  readonly memory: WebAssembly.Memory;
  /** True when `memory` is shared (views survive growth). */
  readonly sharedMemory: boolean;
  /** Verifier mode flag (see RuntimeOptions.verifier). */
  readonly verifier: boolean;
  /** Memory budget in bytes. */
  readonly maxMemory: number;

  /** @internal */ buf: ArrayBuffer | SharedArrayBuffer;
  /** @internal buf.byteLength, cached by refresh() (the getter is slow on SharedArrayBuffer) */ memBytes = 0;
  /** @internal */ u8!: Uint8Array;
  /** @internal */ u16!: Uint16Array;
  /** @internal */ u32!: Uint32Array;
  /** @internal views for typed records */ i8!: Int8Array;
  /** @internal */ i16!: Int16Array;
  /** @internal */ i32!: Int32Array;
  /** @internal */ f32!: Float32Array;
  /** @internal */ f64!: Float64Array;
  /** @internal */ table = 0;
  /** @internal scratch u32 array in linear memory for bulk calls */ scratch = 0;
  /** @internal */ scratchCap = 0;
  /** @internal the u32Batch array batchAddressOf found last, and its address */ lastBatch: Uint32Array | null = null;
  /** @internal */ lastBatchAddr = 0;
  /** @internal bumped by reset(): objects holding handles check it */ epoch = 0;
  /** Verifier mode: milliseconds for the TIME-SEND deadlines (RuntimeOptions.clock); replaceable. */
  clock: () => number = () => performance.now();
  /** @internal the compiled module (share() hands it to other workers) */ module: WebAssembly.Module | null = null;
  /** @internal multi-worker state (createRuntime({ shared: true }) and attachRuntime), else null */
  worker: import('./shared.js').WorkerState | null = null;
  /**
   * @internal JS handler tables of registered drivers (characteristics), keyed by handle. The
   * handles themselves are records in linear memory; only the callbacks live here.
   */
  characteristics = new Map<number, object>();
  /**
   * @internal NBLs the driver model handed to another driver (sent and not yet completed,
   * indicated and not yet returned): freeing one is OWN-1. The value says where it is.
   */
  nblsAway = new U32Map<{ readonly where: string }>();

  /**
   * @internal The live SlabPool objects of each pool handle (src/pool.ts): a program may open a
   * pool twice, and destroying it (or a reset) must kill every object of it.
   */
  slabPoolObjects = new Map<number, { kill(reset?: boolean): void; faults(on: boolean): void }[]>();

  /** @internal address of the runtime root block (assembly/pages.ts). */
  rootAddr: number;
  /** @internal u32 index of the runtime's memory-growth counter (root block + R_GROWS). */
  growsIdx: number;
  /** @internal the counter's value when the views were made */
  grows = -1;
  /** @internal u32 index of the fault-injection word (root block + R_FAULT): 0 when off. */
  faultIdx: number;
  /** @internal u32 index of the slab table (one u32 slab address per 64 KiB unit). */
  tableIdx: number;

  constructor(wasm: WasmExports, memory: WebAssembly.Memory, shared: boolean, verifier: boolean, root: number) {
    this.wasm = wasm;
    this.rootAddr = root;
    this.growsIdx = (root + ROOT_GROWS_OFFSET) >>> 2;
    this.memory = memory;
    this.sharedMemory = shared;
    this.verifier = verifier;
    this.maxMemory = (wasm.maxPagesGet() >>> 0) * PAGE_SIZE;
    this.buf = memory.buffer;
    this.refresh();
    this.table = wasm.slabTable() >>> 0;
    this.tableIdx = this.table >>> 2;
    this.faultIdx = (root + ROOT_FAULT_OFFSET) >>> 2;
    this.scratchU32(256); // small bulk calls never need memory later
  }

  /** @internal Re-creates the views after memory grew. */
  refresh(): void {
    if (this.worker?.detached) throw this.worker.detachedError();
    // The growth counter first: another worker may grow memory between the two reads, and views
    // must never be older than the counter value they are stamped with.
    // (the old view still covers the root block; undefined when it was detached or not made yet).
    const grows = this.u32?.[this.growsIdx];
    const b = this.memory.buffer;
    this.buf = b;
    this.memBytes = b.byteLength;
    this.u8 = new Uint8Array(b);
    this.u16 = new Uint16Array(b);
    this.u32 = new Uint32Array(b);
    this.i8 = new Int8Array(b);
    this.i16 = new Int16Array(b);
    this.i32 = new Int32Array(b);
    this.f32 = new Float32Array(b);
    this.f64 = new Float64Array(b);
    this.grows = grows ?? this.u32[this.growsIdx]!;
  }

  /**
   * @internal Views valid for the current memory size. Memory grows only inside this runtime's
   * Wasm calls, which count each growth in linear memory; comparing that counter costs one load,
   * where `WebAssembly.Memory#buffer` costs tens of ns. (A detached view reads undefined.)
   */
  sync(): void {
    if (this.u32[this.growsIdx] !== this.grows) this.refresh();
  }

  /**
   * A zero-copy view of `length` bytes at `ptr`. With shared memory (the default in Node) the
   * view stays valid when memory grows; without it, growth detaches the view (its length
   * becomes 0) and you must call `bytes` again.
   */
  bytes(ptr: number, length: number): Uint8Array {
    this.sync();
    if (!isU32(ptr) || ptr === 0) throw badParam('bytes', 'ptr', ptr, 'a non-NULL address (u32)');
    if (!isU32(length)) throw badParam('bytes', 'length', length, 'a byte count (u32)');
    if (ptr + length > this.memBytes) {
      throw ruleViolation('bytes', 'length', 'PARAM', `${hexAddr(ptr)} + ${length} runs past the end of memory (${this.buf.byteLength} bytes)`, ptr, length);
    }
    return new Uint8Array(this.buf, ptr, length);
  }

  /** Bytes of linear memory now, and the units the page source owns / holds free. */
  memoryUsage(): { memoryBytes: number; slabBytes: number; freeSlabBytes: number; maxMemory: number } {
    return {
      memoryBytes: this.memory.buffer.byteLength,
      slabBytes: (this.wasm.unitsOwned() >>> 0) * PAGE_SIZE,
      freeSlabBytes: (this.wasm.unitsFreeCount() >>> 0) * PAGE_SIZE,
      maxMemory: this.maxMemory,
    };
  }

  // -- validation helpers (internal) ------------------------------------------------------------

  /** @internal u32 at a byte address. */
  rd32(addr: number): number {
    return this.u32[addr >>> 2]!;
  }

  /** @internal Reads a u64 counter as a number. */
  rd64(addr: number): number {
    return this.u32[addr >>> 2]! + this.u32[(addr >>> 2) + 1]! * 4294967296;
  }

  /**
   * @internal JS-side O(1) check that `ptr` is the start of a live object of `kind` (the same
   * test as the Wasm `lookup`, without a boundary crossing). Returns the slab or an E_ code.
   */
  liveIn(ptr: number, kind: number): number {
    const u32 = this.u32;
    const slab = u32[(this.table >>> 2) + (ptr >>> UNIT_SHIFT)];
    if (!slab) return E.NOT_OURS;
    const pool = u32[slab >>> 2]!;
    if (u32[pool >>> 2] !== kind) return E.WRONG_KIND;
    const size = u32[(slab + SLAB.ObjSize) >>> 2]!;
    const off = ptr - u32[(slab + SLAB.ObjStart) >>> 2]!;
    if (off < 0 || off >= u32[(slab + SLAB.Cap) >>> 2]! * size) return E.MISALIGNED;
    const idx = (off / size) | 0;
    if (idx * size !== off) return E.MISALIGNED;
    if (this.u8[slab + SLAB.State + idx] !== 1) return E.NOT_ALLOCATED;
    return slab;
  }

  /** @internal Kind of the pool owning the slab of `ptr` (0: none). */
  kindAt(ptr: number): number {
    const slab = this.u32[(this.table >>> 2) + (ptr >>> UNIT_SHIFT)];
    if (!slab) return 0;
    return this.u32[this.u32[slab >>> 2]! >>> 2]!;
  }

  /**
   * @internal Builds the bug check for error code `e` (an E_* value, maybe with an argument
   * index) raised by `fn`. `argNames` names the function's arguments, `values` their values;
   * `expected` says what the faulty pointer argument should be; `freeRule` is the rule of a
   * double free for this function.
   */
  fail(
    fn: string,
    e: number,
    argNames: readonly string[],
    values: readonly number[],
    expected: string,
    freeRule: RuleId = 'ORIGIN',
    originRule: RuleId = 'ORIGIN',
  ): NdisBugCheck {
    this.sync();
    if (e >= E.POOL4) return this.ruleFail(fn, e, argNames, values);
    const arg = e >>> E.ARG_SHIFT;
    const code = e & 7;
    const name = argNames[arg];
    const ptr = values[arg] ?? (this.wasm.errPtr() >>> 0);
    const at = hexAddr(ptr);
    switch (code) {
      case E.NOT_OURS:
        return new NdisBugCheck(fn, name, originRule, BUGCODE_BAD_POOL_CALLER, [0x42, ptr, 0, 0],
          ptr === 0 ? `is NULL; expected ${expected}` : `${at} is not ${expected} from this runtime (no pool owns that address)`);
      case E.WRONG_KIND: {
        const k = this.kindAt(ptr);
        return new NdisBugCheck(fn, name, originRule, BUGCODE_BAD_POOL_CALLER, [0x46, ptr, 0, 0],
          `${at} is ${k ? 'a ' + kindName(k) : 'not an object'}, not ${expected}`);
      }
      case E.MISALIGNED:
        return new NdisBugCheck(fn, name, originRule, BUGCODE_BAD_POOL_CALLER, [0x46, ptr, 0, 0],
          `${at} points inside an object, not at the start of ${expected}`);
      case E.NOT_ALLOCATED:
        return new NdisBugCheck(fn, name, ALT_RULES[this.kindAt(ptr)] ?? freeRule, BUGCODE_BAD_POOL_CALLER, [0x07, 0, 0, ptr],
          `${at} is not allocated: ${expected} that was already freed (or never handed out)`);
      case E.WRONG_POOL:
        return new NdisBugCheck(fn, name, originRule, BUGCODE_BAD_POOL_CALLER, [0x46, ptr, 0, 0],
          `${at} belongs to another pool, not this one`);
      case E.DUPLICATE:
        return new NdisBugCheck(fn, name, freeRule, BUGCODE_BAD_POOL_CALLER, [0x07, 0, 0, ptr],
          `${at} appears twice in the list`);
    }
    return new NdisBugCheck(fn, name, 'ORIGIN', BUGCODE_BAD_POOL_CALLER, [0x99, ptr, 0, 0], `invalid (error ${e})`);
  }

  /** @internal Rule errors (E_POOL4 and up). */
  ruleFail(fn: string, e: number, argNames: readonly string[], values: readonly number[]): NdisBugCheck {
    this.sync();
    const detail = this.wasm.errDetail() >>> 0;
    const errPtr = this.wasm.errPtr() >>> 0;
    switch (e) {
      case E.POOL4:
        return ruleViolation(fn, argNames[0], 'POOL-4',
          fn === 'NdisAllocateNetBufferMdlAndData'
            ? `${hexAddr(values[0]!)} is a pool with DataSize 0: NdisAllocateNetBufferMdlAndData needs a pool created with DataSize > 0`
            : `${hexAddr(values[0]!)} is a pool with DataSize ${this.rd32(values[0]! + POOL.User0)}: such pools allocate only with NdisAllocateNetBufferMdlAndData`,
          values[0]!);
      case E.NB_ARGS:
        return ruleViolation(fn, 'MdlChain', 'NB-ARGS', `is NULL, so DataOffset and DataLength must be 0 (got ${values[2]}, ${values[3]})`, values[2]!, values[3]!);
      case E.NB_RANGE:
        return ruleViolation(fn, 'DataOffset', 'NB-CONS', `+ DataLength (${values[2]} + ${values[3]}) exceeds the ${detail} bytes the MDL chain describes`, values[2]!, values[3]!, detail);
      case E.POOL5:
        return ruleViolation(fn, argNames[0], 'POOL-5', `${hexAddr(values[0]!)} still has ${detail} object(s) outstanding; free them before the pool`, values[0]!, detail);
      case E.POOL6:
        return ruleViolation(fn, argNames[0], 'POOL-6', `${hexAddr(values[0]!)} still owns ${detail} pool(s); free them before the handle`, values[0]!, detail);
      case E.WRONG_TAG:
        return new NdisBugCheck(fn, 'Tag', 'TAG', BUGCODE_BAD_POOL_CALLER, [0x0a, values[1]!, detail, values[2]!],
          `'${tagToString(values[2]!)}' does not match the tag '${tagToString(detail)}' the memory at ${hexAddr(values[1]!)} was allocated with`);
      case E.MDL_LOOP:
        return ruleViolation(fn, 'MdlChain', 'NB-CONS', `${hexAddr(errPtr)} is an MDL chain that loops back on itself`, errPtr);
      case E.POOL2:
        return ruleViolation(fn, 'Parameters.ProtocolId', 'POOL-2', detail > 0x0f
          ? `${detail} is above NDIS_PROTOCOL_ID_MAX (0x0F)`
          : `${detail} is not NDIS_PROTOCOL_ID_DEFAULT: only a protocol driver's handle may create pools with a protocol ID`, detail);
      case E.POOL3:
        return ruleViolation(fn, argNames[0], 'POOL-3', `${hexAddr(values[0]!)} is a pool without fAllocateNetBuffer or with DataSize: NdisAllocateNetBufferAndNetBufferList needs fAllocateNetBuffer TRUE and DataSize 0`, values[0]!);
      case E.NBL_FREE1:
        return ruleViolation(fn, argNames[0], 'NBL-FREE-1', `${hexAddr(values[0]!)} is the NET_BUFFER preallocated with a NET_BUFFER_LIST: NdisFreeNetBufferList frees it`, values[0]!);
      case E.NBL_FREE2:
        return ruleViolation(fn, argNames[0], 'NBL-FREE-2', fn === 'NdisFreeNetBufferListContext'
          ? `frees context space that came with the NET_BUFFER_LIST's allocation (only ${detail} byte(s) were added by NdisAllocateNetBufferListContext)`
          : `${hexAddr(errPtr)} still has context added by NdisAllocateNetBufferListContext; free it with NdisFreeNetBufferListContext first`, errPtr, detail);
      case E.CTX_RANGE:
        return ruleViolation(fn, 'ContextSize', 'NBL-FREE-2', `${values[1]} is more context space than is in use (${detail} byte(s) in the current block)`, values[1]!, detail);
      case E.NBL_LOOP:
        return ruleViolation(fn, argNames[0], 'PARAM', `${hexAddr(values[0]!)} is a NET_BUFFER_LIST chain that loops back on itself (at ${hexAddr(errPtr)})`, values[0]!, errPtr);
      case E.BUF_CHAINED:
        return ruleViolation(fn, argNames[0], 'PKT-2', `${hexAddr(errPtr)} is still chained to packet ${hexAddr(detail)}; unchain it first`, errPtr, detail);
      case E.ADV2: // from NdisFreeMdl
        return ruleViolation(fn, argNames[0], 'ADV-2', `${hexAddr(errPtr)} belongs to a retreat's default allocator: NdisAdvanceNetBufferDataStart (FreeMdl TRUE) or freeing its NET_BUFFER frees it`, errPtr);
      case E.BAD_RANGE:
        return ruleViolation(fn, 'VirtualAddress', 'PARAM', `${hexAddr(values[1]!)} + ${values[2]} is not inside one live allocation (nonpaged memory from this runtime)`, values[1]!, values[2]!);
    }
    return ruleViolation(fn, undefined, 'PARAM', `invalid (error ${e})`);
  }

  // -- statistics (not for the data path) -------------------------------------------------------

  /** @internal Descriptors of every live pool (NB pools, SlabPools, memory classes, the MDL pool). */
  allPools(): number[] {
    const out = [ROOT.NB_POOLS, ROOT.NBL_POOLS, ROOT.PACKET_POOLS, ROOT.SLAB_POOLS, ROOT.MEM_POOLS].flatMap((r) => this.liveObjectsOf(r));
    out.push(this.wasm.rootPool(ROOT.MDLS) >>> 0); // the runtime's MDL pool
    return out;
  }

  /** @internal Live objects of root pool `r` (pool descriptors, tag sets…), in address order. */
  liveObjectsOf(r: number): number[] {
    const x = this.wasm;
    const root = x.rootPool(r) >>> 0;
    const out: number[] = [];
    for (let p = x.liveNext(root, 0) >>> 0; p !== 0; p = x.liveNext(root, p) >>> 0) out.push(p);
    return out;
  }

  /** @internal Statistics of the pool whose descriptor is at `d`. */
  poolStatsAt(d: number): PoolStats {
    this.sync();
    const tag = this.rd32(d + POOL.Tag);
    const maxOut = this.rd32(d + POOL.MaxOut);
    // Objects in caches (a multi-worker runtime's worker caches, a SlabPool's cache in a
    // single-threaded one) are not outstanding, and the caches' own allocations and frees are
    // summed in (assembly/wcache.ts).
    let cached = 0, cAllocs = 0, cFrees = 0;
    const kind = this.rd32(d + POOL.Kind);
    if (kind === KIND.SLAB_OBJ || kind === KIND.NB) {
      cached = this.wasm.cacheSums(d) >>> 0;
      cAllocs = Number(this.wasm.cacheSumAllocs());
      cFrees = Number(this.wasm.cacheSumFrees());
      this.sync();
    }
    const objSize = this.rd32(d + POOL.ObjSize);
    return {
      tag: tagToString(tag),
      tagValue: tag,
      objectSize: objSize,
      allocs: this.rd64(d + POOL.Allocs) + cAllocs,
      frees: this.rd64(d + POOL.Frees) + cFrees,
      outstanding: this.rd32(d + POOL.Outstanding) - cached,
      peak: this.rd32(d + POOL.Peak),
      failures: this.rd64(d + POOL.Failures),
      // The pool's own count goes below 0 when objects its cache handed out are freed to the
      // slabs (bulk frees): a signed read, then the cache's share.
      bytes: this.u32[(d + POOL.Bytes) >>> 2]! + this.i32[((d + POOL.Bytes) >>> 2) + 1]! * 4294967296 + (cAllocs - cFrees) * objSize,
      slabs: this.rd32(d + POOL.SlabCount),
      slabBytes: this.rd32(d + POOL.Units) * PAGE_SIZE,
      maxOutstanding: maxOut === 0xffffffff ? Infinity : maxOut,
    };
  }

  /**
   * Where linear memory goes (not for the data path: it walks the slab table). One row per pool
   * (SlabPools, NDIS pools, and the runtime's internal size-class pools), with its slabs split
   * into full, partly used and empty, and the bytes they cover that hold no live object
   * (`unusedBytes`: free slots, slab metadata, tail waste). `fragmentation` is
   * unusedBytes / slabBytes (0 for a pool without slabs).
   */
  memoryReport(): MemoryReport {
    this.sync();
    // One pass over the slab table: per pool, [full, partial, empty, capacity].
    const census = new Map<number, [number, number, number, number]>();
    const table = this.wasm.slabTable() >>> 0;
    const top = this.wasm.unitsTop() >>> 0;
    const hasCaches = this.rd32(this.rootAddr + ROOT_CACHES_OFFSET) !== 0;
    for (let u = 0; u < top; ) {
      const slab = this.rd32(table + u * 4);
      if (slab !== 0 && slab / PAGE_SIZE === u) {
        const pool = this.rd32(slab + SLAB.Pool);
        const cap = this.rd32(slab + SLAB.Cap);
        // Objects in caches are free too, though not on the slab's free stack.
        const free = this.rd32(slab + SLAB.FreeTop) + (hasCaches ? this.wasm.slabCached(slab) >>> 0 : 0);
        let c = census.get(pool);
        if (!c) census.set(pool, (c = [0, 0, 0, 0]));
        c[free === 0 ? 0 : free === cap ? 2 : 1]!++;
        c[3] += cap;
        u += this.rd32(slab + SLAB.Units);
      } else {
        u++;
      }
    }
    const pools: PoolReport[] = [];
    let usedBytes = 0;
    let poolSlabBytes = 0;
    for (const d of this.allPools()) {
      const s = this.poolStatsAt(d);
      const [full, partial, empty, capacity] = census.get(d) ?? [0, 0, 0, 0];
      const kind = this.rd32(d + POOL.Kind);
      pools.push({
        handle: d,
        tag: s.tag,
        type: TYPE_NAMES[kind] ?? 'Internal',
        objectSize: s.objectSize,
        live: s.outstanding,
        capacity,
        slabs: s.slabs,
        fullSlabs: full,
        partialSlabs: partial,
        emptySlabs: empty,
        slabBytes: s.slabBytes,
        usedBytes: s.bytes,
        unusedBytes: s.slabBytes - s.bytes,
        fragmentation: s.slabBytes === 0 ? 0 : (s.slabBytes - s.bytes) / s.slabBytes,
      });
      usedBytes += s.bytes;
      poolSlabBytes += s.slabBytes;
    }
    const u = this.memoryUsage();
    return { ...u, usedBytes, unusedBytes: poolSlabBytes - usedBytes, pools };
  }

  /**
   * Per-tag statistics (DESIGN D11), one row per (tag, type), sorted by tag. Not for the data
   * path: it walks the slab table.
   */
  poolmon(): PoolmonRow[] {
    const rows = new Map<string, PoolmonRow>();
    const rowFor = (kind: number, tagValue: number): PoolmonRow => {
      const type = TYPE_NAMES[kind] ?? 'Internal';
      const key = `${tagValue}/${type}`;
      let row = rows.get(key);
      if (!row) {
        row = { tag: tagToString(tagValue), tagValue, type, allocs: 0, frees: 0, outstanding: 0, bytes: 0, peak: 0, failures: 0, pools: 0 };
        rows.set(key, row);
      }
      return row;
    };
    for (const d of this.allPools()) {
      const s = this.poolStatsAt(d);
      const row = rowFor(this.rd32(d + POOL.Kind), s.tagValue);
      row.allocs += s.allocs;
      row.frees += s.frees;
      row.outstanding += s.outstanding;
      row.bytes += s.bytes;
      row.peak = Math.max(row.peak, s.peak);
      row.failures += s.failures;
      row.pools++;
    }
    // Counters of pools already freed, kept per (kind, tag) in linear memory.
    for (const t of this.liveObjectsOf(ROOT.TAG_SETS)) {
      const allocs = this.rd64(t + TAG_SET.RetiredAllocs);
      if (this.rd32(t + TAG_SET.RetiredPools) === 0) continue;
      const row = rowFor(this.rd32(t + TAG_SET.Kind), this.rd32(t + TAG_SET.Tag));
      row.allocs += allocs;
      row.frees += this.rd64(t + TAG_SET.RetiredFrees);
      row.failures += this.rd64(t + TAG_SET.RetiredFailures);
      row.peak = Math.max(row.peak, this.rd32(t + TAG_SET.RetiredPeak));
    }
    return [...rows.values()]
      .filter((r) => r.allocs > 0 || r.failures > 0 || r.outstanding > 0)
      .sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : a.type < b.type ? -1 : 1));
  }

  /**
   * @internal A u32 scratch array of at least `n` entries in linear memory (its address), or 0
   * when the memory budget cannot hold one (callers then fall back to one call per object).
   */
  scratchU32(n: number): number {
    if (n > this.scratchCap) {
      let cap = Math.max(256, this.scratchCap);
      while (cap < n) cap *= 2;
      const p = this.wasm.heapReserve(cap * 4) >>> 0;
      if (!p) return 0;
      this.scratch = p;
      this.scratchCap = cap;
      this.sync();
    }
    return this.scratch;
  }

  /**
   * Fault injection (DESIGN D5): from now on every allocation in this runtime (NDIS allocators,
   * SlabPools, rings, pool creation) fails with `probability`, as exhaustion does: NULL or
   * NDIS_STATUS_RESOURCES, never a throw. `seed` makes the sequence reproducible. Probability 0
   * turns it off. The setting survives `reset()`.
   */
  injectFaults(options: { probability: number; seed?: number }): void {
    const fn = 'injectFaults';
    if (typeof options !== 'object' || options === null) throw badParam(fn, 'options', options, 'an object');
    const { probability, seed = 1 } = options;
    if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1)) {
      throw badParam(fn, 'options.probability', probability, 'a number in [0, 1]');
    }
    if (!isU32(seed)) throw badParam(fn, 'options.seed', seed, 'a u32');
    // threshold = probability * 2^32, clamped so that 1 fails every allocation.
    const threshold = probability >= 1 ? 0xffffffff : Math.floor(probability * 4294967296);
    this.wasm.faultsSet(threshold >>> 0, seed);
    for (const list of this.slabPoolObjects.values()) for (const o of list) o.faults(threshold !== 0);
  }

  /** Allocations failed by fault injection so far. */
  faultsInjected(): number {
    return this.wasm.faultsInjected() >>> 0;
  }

  /**
   * Verifier mode: checks the send-completion deadlines (TIME-SEND) now, at `clock()`, as Driver
   * Verifier's timer would (sends and runDpcs/pnp check them too). Does nothing in a normal runtime.
   */
  checkTimers(): void {}

  /**
   * Frees everything: every pool, object and handle of this runtime becomes invalid (using one
   * afterwards is a bug check). Linear memory keeps its size; its slabs are reused.
   */
  reset(): void {
    if (this.worker) {
      this.sync();
      const workers = this.rd32(this.worker.root + ROOT_WORKERS_OFFSET);
      if (workers > 1) {
        throw new Error(`runtime.reset(): ${workers - 1} other worker(s) are attached to this multi-worker runtime; they must detach() first`);
      }
    }
    this.wasm.resetAll();
    this.epoch++;
    this.onReset();
  }

  /** @internal OWN-1: `nbl` must not be away (sent or indicated and not yet back). */
  checkNotAway(fn: string, arg: string, nbl: number): void {
    const away = this.nblsAway.get(nbl);
    if (away) {
      throw ruleViolation(fn, arg, 'OWN-1', `${hexAddr(nbl)} is not the caller's: it was ${away.where}`, nbl);
    }
  }

  /** @internal Subclasses drop their JS-side tables here. */
  onReset(): void {
    this.characteristics.clear();
    this.nblsAway.clear();
    // Every SlabPool object is dead (its pool and cache block are gone with the slabs).
    const objects = [...this.slabPoolObjects.values()].flat();
    this.slabPoolObjects.clear();
    for (const o of objects) o.kill(true);
  }
}

/** u32 integer test: rejects NaN, fractions, negatives, > 0xFFFFFFFF and non-numbers. */
export function isU32(v: unknown): v is number {
  return typeof v === 'number' && v >>> 0 === v;
}
