/**
 * NdisRuntime: one Wasm instance with its own memory (DESIGN D8). Every NDIS function of the
 * mirror is a method with the same name and parameters; the package-level functions act on
 * the default runtime (src/index.ts).
 */
import {
  RuntimeCore, compileAsync, compileSync, instantiate, resolveOptions, type RuntimeOptions,
} from './core.js';
import { handleApi, type HandleApi } from './ndis/handles.js';
import { netBufferApi, type NetBufferApi } from './ndis/netbuf.js';
import { netBufferListApi, nblChainApi, type NetBufferListApi, type NblChainApi } from './ndis/nbl.js';
import { dataSpaceApi, type DataSpaceApi } from './ndis/dataspace.js';
import { packetApi, packetPoolInfoApi, type PacketApi, type PacketPoolInfoApi } from './ndis/packet.js';
import { SlabPool, createSlabPool, makeBatch, type SlabPoolOptions } from './pool.js';
import { formatPoolmon } from './poolmon.js';
import { DescriptorRing, createRing, type RingOptions } from './ring.js';
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

  /** `poolmon()` as a text table. */
  poolmonTable(): string {
    return formatPoolmon(this.poolmon());
  }
}

// Every NDIS function is a method of NdisRuntime with the same name and parameters.
export interface NdisRuntime extends HandleApi, NetBufferApi, NetBufferListApi, NblChainApi, DataSpaceApi, PacketApi, PacketPoolInfoApi, DriverApi, IrqlApi {}
Object.assign(NdisRuntime.prototype, handleApi, netBufferApi, netBufferListApi, nblChainApi, dataSpaceApi, packetApi, packetPoolInfoApi, driverApi, irqlApi);

/** Names of the NDIS functions that are methods of NdisRuntime. */
export const NDIS_FUNCTIONS = [...Object.keys(handleApi), ...Object.keys(netBufferApi), ...Object.keys(netBufferListApi), ...Object.keys(dataSpaceApi), ...Object.keys(packetApi), ...Object.keys(driverApi), ...Object.keys(irqlApi)] as const;

/** Methods the verifier wraps: every NDIS function and the chain helpers. */
const VERIFIED = [...NDIS_FUNCTIONS, ...Object.keys(nblChainApi), ...Object.keys(packetPoolInfoApi)];

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
  const [x, mem, root] = instantiate(mod, shared, maxPages);
  return verify(new NdisRuntime(x, mem, shared, verifier, root), options);
}

/** Creates a runtime synchronously (Node). */
export function createRuntimeSync(options?: RuntimeOptions): NdisRuntime {
  const [maxPages, shared, verifier, wasm] = resolveOptions(options);
  const [x, mem, root] = instantiate(compileSync(shared, wasm), shared, maxPages);
  return verify(new NdisRuntime(x, mem, shared, verifier, root), options);
}
