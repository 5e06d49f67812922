/**
 * NdisRuntime: one Wasm instance with its own memory (DESIGN D8). Every NDIS function of the
 * mirror is a method with the same name and parameters; the package-level functions act on
 * the default runtime (src/index.ts).
 */
import {
  RuntimeCore, compileAsync, compileSync, instantiate, resolveOptions, isU32, type RuntimeOptions, type WasmExports,
} from './core.js';
import { NdisBugCheck, badParam, ruleViolation } from './errors.js';
import { canBlock, runtimeLock, workerState, type WorkerState, type SharedRuntimeDescriptor } from './shared.js';
import { handleApi, type HandleApi } from './ndis/handles.js';
import { netBufferApi, nbBulkApi, type NetBufferApi, type NbBulkApi } from './ndis/netbuf.js';
import { netBufferListApi, nblChainApi, type NetBufferListApi, type NblChainApi } from './ndis/nbl.js';
import { dataSpaceApi, type DataSpaceApi } from './ndis/dataspace.js';
import { packetApi, packetPoolInfoApi, type PacketApi, type PacketPoolInfoApi } from './ndis/packet.js';
import { SlabPool, createSlabPool, openSlabPool, makeBatch, type SlabPoolOptions } from './pool.js';
import { formatPoolmon } from './poolmon.js';
import { DescriptorRing, createRing, type RingOptions } from './ring.js';
import { SharedRing, createSharedRing, openSharedRing, type SharedRingOptions } from './xring.js';
import { defineRecord, type FieldSpec, type RecordType } from './record.js';
import { driverApi, createAdapter, listAdapters, runPnp, type DriverApi, type Adapter, type AdapterOptions } from './ndis/driver.js';
import { irqlApi, type IrqlApi } from './ndis/irql.js';
import { installVerifier, verifierOf, type LeakEntry } from './verifier.js';
import { createHub, registerVirtualMiniport, runDpcs, virtualCounters, type Hub, type VirtualMiniportOptions, type DpcResult, type NicCounters } from './vnic.js';

/** A runtime: its own Wasm instance, memory, pools and handles. */
export class NdisRuntime extends RuntimeCore {
  /**
   * Live NDIS objects with the site that allocated each (verifier mode only): pools, NET_BUFFERs,
   * NET_BUFFER_LISTs, MDLs, memory blocks, generic objects, packets and buffers, with their pool,
   * owner handle and tag. For finding leaks; not for the data path.
   * @throws Error outside verifier mode.
   */
  leaks(): LeakEntry[] {
    const v = verifierOf(this);
    if (!v) throw new Error('runtime.leaks() needs verifier mode: createRuntime({ verifier: true })');
    return v.leaks();
  }

  /** Objects waiting in the quarantine (verifier mode, VERIFY pools). */
  quarantined(): number {
    return this.wasm.quarantineCount() >>> 0;
  }

  /**
   * Creates a fixed-size pool (the idiomatic API).
   * @returns the pool, or null when the memory budget cannot hold even its descriptor.
   */
  createSlabPool(options: SlabPoolOptions): SlabPool | null {
    return createSlabPool(this, options);
  }

  /**
   * The SlabPool object for `handle` (`pool.handle`), typically a pool another worker of a
   * multi-worker runtime created. In a multi-worker runtime each worker's object has its own
   * cache of `cacheSize` objects (default 256; 0: none), so alloc and free take no lock.
   * @returns null when memory cannot hold this worker's cache.
   */
  openSlabPool(handle: number, options?: { maxWaiters?: number; cacheSize?: number }): SlabPool | null {
    return openSlabPool(this, handle, options);
  }

  /**
   * A Uint32Array of `n` entries in this runtime's linear memory, for zero-copy
   * `allocMany`/`freeMany`. It lives as long as the runtime.
   */
  u32Batch(n: number): Uint32Array {
    return makeBatch(this, n);
  }

  /**
   * Defines a typed record: a C-like layout (declaration order, natural alignment) and one
   * accessor per field that reads/writes by pointer with no allocation:
   * `const P = rt.defineRecord({ x: 'f32', id: 'u32', name: ['u8', 16] }); P.fields.x.set(p, 1.5)`.
   * Pass it as `createSlabPool({ record: P })` to size the slots.
   */
  defineRecord<F extends Record<string, FieldSpec>>(fields: F): RecordType<F> {
    return defineRecord(this, fields);
  }

  /**
   * Creates a descriptor ring (power-of-two capacity up to 2^20).
   * @returns the ring, or null when the memory budget cannot hold it.
   */
  createRing(options: RingOptions): DescriptorRing | null {
    return createRing(this, options);
  }

  /**
   * Creates a cross-worker descriptor ring (DPDK rte_ring semantics: bulk and burst, single- or
   * multi-producer and -consumer, blocking `dequeueWait`). Other workers of a multi-worker
   * runtime open it with `openSharedRing(ring.handle)`.
   * @returns the ring, or null when the memory budget cannot hold it.
   */
  createSharedRing(options: SharedRingOptions): SharedRing | null {
    return createSharedRing(this, options);
  }

  /** The SharedRing object for `handle` (a ring another worker created). */
  openSharedRing(handle: number): SharedRing {
    return openSharedRing(this, handle);
  }

  /**
   * Starts an adapter of a registered miniport driver, as PnP would: NDIS allocates its
   * NdisMiniportHandle and calls the driver's InitializeHandlerEx, then attaches the registered
   * filter drivers, restarts the stack and binds the registered protocols.
   * @returns the adapter, or null when InitializeHandlerEx failed (or memory is exhausted).
   */
  createAdapter(NdisMiniportDriverHandle: number, options: AdapterOptions): Adapter | null {
    return createAdapter(this, NdisMiniportDriverHandle, options);
  }

  /**
   * Runs deferred PnP work, as Windows does some time after a driver registers: binds protocols
   * and attaches filter drivers registered after adapters started. `createAdapter` and
   * `runDpcs` run it first. Returns how many work items ran.
   */
  pnp(): number {
    return runPnp(this);
  }

  /** Every adapter not yet removed (also one whose start-up threw), in creation order. */
  adapters(): Adapter[] {
    return listAdapters(this);
  }

  /**
   * Registers the built-in virtual miniport (netvmini's model over the Wasm NIC of
   * assembly/nic.ts) and returns its NdisMiniportDriverHandle. Its adapters take
   * `{ hub?, tcbCount?, rcbCount? }` in `createAdapter` options.
   */
  registerVirtualMiniport(options?: VirtualMiniportOptions): number {
    return registerVirtualMiniport(this, options);
  }

  /** Creates a hub for virtual adapters (each runtime also has a default one). Null: no memory. */
  createHub(name?: string): Hub | null {
    return createHub(this, name);
  }

  /** Runs the virtual hardware's DPCs until no work is left (see DpcResult). */
  runDpcs(options?: { batch?: number; maxPasses?: number }): DpcResult {
    return runDpcs(this, options);
  }

  /** Counters of a virtual adapter (by its NdisMiniportHandle), undefined for other adapters. */
  nicCounters(NdisMiniportHandle: number): NicCounters | undefined {
    return virtualCounters(this, NdisMiniportHandle);
  }

  /**
   * The descriptor other workers pass to `attachRuntime` (post it with `postMessage`: the module
   * and the shared memory are structured-cloneable). Needs `createRuntime({ shared: true })`.
   */
  share(): SharedRuntimeDescriptor {
    const w = this.worker;
    if (!w || !this.module) throw new Error('runtime.share() needs a multi-worker runtime: createRuntime({ shared: true })');
    if (w.detached) throw detachedError();
    return { kind: 'ndis-pool/shared-runtime', module: this.module, memory: this.memory, root: w.root, verifier: this.verifier };
  }

  /** This worker's id in a multi-worker runtime (1: the creator), 0 otherwise. */
  get workerId(): number {
    return this.worker?.id ?? 0;
  }

  /**
   * Leaves a multi-worker runtime: this worker's caches go back to the shared pools and every
   * later call through this object is a bug check. Objects stay valid for the other workers.
   * Returns how many workers stay attached.
   */
  detach(): number {
    const w = this.worker;
    if (!w) throw new Error('runtime.detach() needs a multi-worker runtime (createRuntime({ shared: true }) or attachRuntime)');
    if (w.detached) throw detachedError();
    this.wasm.cachesDetach(w.id);
    const left = this.wasm.detachWorker() >>> 0;
    w.detached = true;
    this.grows = -2; // the next sync() refreshes, and refresh() throws
    this.epoch++; // SlabPool objects check it on every call
    return left;
  }

  /** `poolmon()` as a text table. */
  poolmonTable(): string {
    return formatPoolmon(this.poolmon());
  }
}

// Every NDIS function is a method of NdisRuntime with the same name and parameters.
export interface NdisRuntime extends HandleApi, NetBufferApi, NbBulkApi, NetBufferListApi, NblChainApi, DataSpaceApi, PacketApi, PacketPoolInfoApi, DriverApi, IrqlApi {}
Object.assign(NdisRuntime.prototype, handleApi, netBufferApi, nbBulkApi, netBufferListApi, nblChainApi, dataSpaceApi, packetApi, packetPoolInfoApi, driverApi, irqlApi);

/** Names of the NDIS functions that are methods of NdisRuntime. */
export const NDIS_FUNCTIONS = [...Object.keys(handleApi), ...Object.keys(netBufferApi), ...Object.keys(netBufferListApi), ...Object.keys(dataSpaceApi), ...Object.keys(packetApi), ...Object.keys(driverApi), ...Object.keys(irqlApi)] as const;

/** Methods the verifier wraps: every NDIS function and the chain helpers. */
const VERIFIED = [...NDIS_FUNCTIONS, ...Object.keys(nblChainApi), ...Object.keys(nbBulkApi), ...Object.keys(packetPoolInfoApi)];

/** Turns verifier mode on for a new runtime (quarantine length from the options). */
function verify(rt: NdisRuntime, options: RuntimeOptions | undefined): NdisRuntime {
  const q = options?.quarantine ?? 1024;
  if (!Number.isInteger(q) || q < 1 || q > 1 << 20 || (q & (q - 1)) !== 0) {
    throw new RangeError(`createRuntime: options.quarantine must be a power of two in [1, 2^20] (got ${String(q)})`);
  }
  if (rt.verifier) installVerifier(rt, VERIFIED, q);
  return rt;
}

/** Creates a runtime (works in Node and browsers; compiles the module once per process). */
export async function createRuntime(options?: RuntimeOptions): Promise<NdisRuntime> {
  const [maxPages, shared, verifier, wasm] = resolveOptions(options);
  const mod = await compileAsync(shared, wasm);
  return verify(make(mod, maxPages, shared, verifier, options), options);
}

/** Creates a runtime synchronously (Node). */
export function createRuntimeSync(options?: RuntimeOptions): NdisRuntime {
  const [maxPages, shared, verifier, wasm] = resolveOptions(options);
  return verify(make(compileSync(shared, wasm), maxPages, shared, verifier, options), options);
}

/** Instantiates `mod` and builds the runtime (a multi-worker one with options.shared). */
function make(mod: WebAssembly.Module, maxPages: number, shared: boolean, verifier: boolean, options: RuntimeOptions | undefined): NdisRuntime {
  const [raw, mem, root] = instantiate(mod, shared, maxPages);
  let x = raw;
  let state: WorkerState | null = null;
  if (options?.shared) {
    raw.lockSetCanWait(canBlock() ? 1 : 0); // the creator too may sleep on the lock inside Wasm
    [x, state] = workerState(raw, runtimeLock(mem, root), root, 1, detachedError);
  }
  const rt = new NdisRuntime(x, mem, shared, verifier, root);
  rt.module = mod;
  rt.worker = state;
  if (options?.clock) rt.clock = options.clock;
  return rt;
}

function detachedError(): NdisBugCheck {
  return ruleViolation('NdisRuntime', 'runtime', 'PARAM', 'was detached (runtime.detach()): it no longer owns the shared memory; attach again with attachRuntime');
}

/**
 * Attaches to a multi-worker runtime that another worker created and shared
 * (`runtime.share()`, posted to this worker): a new instance of the same module on the same
 * memory. Pools, objects and handles are the same numbers in every worker.
 * Driver registrations, adapters and verifier records stay with the worker that made them.
 */
export function attachRuntime(descriptor: SharedRuntimeDescriptor): NdisRuntime {
  const d = descriptor as Partial<SharedRuntimeDescriptor> | null;
  if (!d || typeof d !== 'object' || d.kind !== 'ndis-pool/shared-runtime' || !(d.module instanceof WebAssembly.Module)
    || !(d.memory instanceof WebAssembly.Memory) || !isU32(d.root) || d.root === 0) {
    throw badParam('attachRuntime', 'descriptor', d, 'the object runtime.share() returned');
  }
  const raw = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports as unknown as WasmExports;
  const lock = runtimeLock(d.memory, d.root);
  lock.acquire();
  let id: number;
  try {
    id = raw.attach(d.root, canBlock() ? 1 : 0) >>> 0;
  } finally {
    lock.release();
  }
  const [x, state] = workerState(raw, lock, d.root, id, detachedError);
  const rt = new NdisRuntime(x, d.memory, true, !!d.verifier, d.root);
  rt.module = d.module;
  rt.worker = state;
  return rt.verifier ? verify(rt, undefined) : rt;
}
