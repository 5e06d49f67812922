/**
 * NET_BUFFER pools and NET_BUFFERs (NDIS-SPEC §2.1, §2.2, §4.1), and the NET_BUFFER accessors
 * of DESIGN D2. Pool handles and NBs are addresses in Wasm memory, validated in O(1).
 */
import { RuntimeCore, isU32 } from '../core.js';
import { NdisBugCheck, BUGCODE_NDIS_DRIVER, badParam, ruleViolation, hexAddr } from '../errors.js';
import {
  type NDIS_HANDLE, type PNET_BUFFER, type PMDL, type PVOID, type NULL, type NET_BUFFER_POOL_PARAMETERS,
  NDIS_OBJECT_TYPE_DEFAULT, NET_BUFFER_POOL_PARAMETERS_REVISION_1, NET_BUFFER_POOL_PARAMETERS_REVISION_2,
  NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1, NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_2,
  NET_BUFFER_POOL_FLAG_VERIFY,
} from './constants.js';
import { E, KIND, NB } from './layout.js';
import { checkMdl, u16Arg, u32Arg } from './handles.js';
import type { WorkerState } from '../shared.js';
import { WORKER_CACHE_SIZE, batchAddressOf } from '../pool.js';

/**
 * @internal Checks an NDIS_OBJECT_HEADER against the revisions of a parameter struct (HDR-1):
 * Type 0x80, a known Revision, Size >= that revision's size (DESIGN D3, decision 6).
 * Returns the revision.
 */
export function checkHeader(fn: string, header: unknown, sizes: Record<number, number>, structName: string): number {
  if (typeof header !== 'object' || header === null) {
    throw new NdisBugCheck(fn, 'Parameters.Header', 'HDR-1', BUGCODE_NDIS_DRIVER, [0x21, 0, 0, 0], `is missing: ${structName} needs an NDIS_OBJECT_HEADER`);
  }
  const h = header as { Type?: unknown; Revision?: unknown; Size?: unknown };
  const t = isU32(h.Type) ? h.Type : 0;
  const r = isU32(h.Revision) ? h.Revision : 0;
  const s = isU32(h.Size) ? h.Size : 0;
  const bad = (what: string) =>
    new NdisBugCheck(fn, 'Parameters.Header', 'HDR-1', BUGCODE_NDIS_DRIVER, [0x21, t, r, s], what);
  if (h.Type !== NDIS_OBJECT_TYPE_DEFAULT) throw bad(`.Type is ${String(h.Type)}; ${structName} needs NDIS_OBJECT_TYPE_DEFAULT (0x80)`);
  const min = typeof h.Revision === 'number' ? sizes[h.Revision] : undefined;
  if (min === undefined) throw bad(`.Revision ${String(h.Revision)} is not a revision of ${structName} (known: ${Object.keys(sizes).join(', ')})`);
  if (!isU32(h.Size) || h.Size > 0xffff || h.Size < min) {
    throw bad(`.Size ${String(h.Size)} is below NDIS_SIZEOF_${structName}_REVISION_${h.Revision} (${min})`);
  }
  return h.Revision as number;
}

/**
 * @internal Checks a live NET_BUFFER (JS side, O(1)): an NB from an NB pool, or the NB
 * preallocated inside a live NET_BUFFER_LIST.
 */
export function checkNb(rt: RuntimeCore, fn: string, name: string, nb: unknown): number {
  if (!isU32(nb)) throw badParam(fn, name, nb, 'a PNET_BUFFER');
  rt.sync();
  let r = rt.liveIn(nb, KIND.NB);
  if (r === E.WRONG_KIND && rt.kindAt(nb) === KIND.NBL) {
    const e = rt.wasm.preallocNb(nb) >>> 0;
    if (e === E.OK) return nb;
    r = e === E.WRONG_KIND ? E.WRONG_KIND : e;
  }
  if (r < E.LIMIT) throw rt.fail(fn, r, [name], [nb], 'a NET_BUFFER', 'ALT-NB');
  return nb;
}

const NB_POOL_SIZES = {
  [NET_BUFFER_POOL_PARAMETERS_REVISION_1]: NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1,
  [NET_BUFFER_POOL_PARAMETERS_REVISION_2]: NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_2,
};

const HANDLE_EXPECTED = 'an NDIS handle (protocol handle or generic object) or NULL';
const POOL_EXPECTED = 'a NET_BUFFER pool handle';

function checkPoolHandleArg(fn: string, v: unknown): void {
  if (!isU32(v)) throw badParam(fn, 'PoolHandle', v, 'an NDIS_HANDLE');
}

/** assembly/wcache.ts WC_MISS / WC_SHARED. */
const WC_MISS = 0xffffffff;
const WC_SHARED = 0xfffffffe;

/**
 * Multi-worker runtimes: NdisAllocateNetBufferMdlAndData through this worker's cache of the pool
 * (no lock), opening the cache on the pool's first use here; pools that take no cache (and
 * every error) go to the locked call.
 */
function allocCached(rt: RuntimeCore, w: WorkerState, pool: number): number {
  let r = w.raw.wcNbAlloc(pool) >>> 0;
  if (r === WC_MISS && rt.wasm.cacheOpenNb(pool, w.id, WORKER_CACHE_SIZE) >>> 0 !== 0) r = w.raw.wcNbAlloc(pool) >>> 0;
  return r === WC_MISS || r === WC_SHARED ? rt.wasm.nbAllocateMdlAndData(pool) : r;
}

/**
 * Multi-worker runtimes: NdisFreeNetBuffer into this worker's cache of the NB's pool (opened on
 * first use), whichever worker allocated it. False when the locked call must serve it (it also
 * reports every error).
 */
function freeCached(rt: RuntimeCore, w: WorkerState, nb: number): boolean {
  let r = w.raw.wcNbFree(nb) >>> 0;
  if (r === WC_MISS && rt.wasm.cacheOpenNb(w.raw.cacheMissPool() >>> 0, w.id, WORKER_CACHE_SIZE) >>> 0 !== 0) r = w.raw.wcNbFree(nb) >>> 0;
  return r === E.OK;
}

/** Reads a u32 field of a live NB after `checkNb`. */
function field(rt: RuntimeCore, fn: string, nb: PNET_BUFFER, off: number): number {
  checkNb(rt, fn, 'NetBuffer', nb);
  return rt.u32[(nb + off) >>> 2]!;
}

/** Writes a u32 field of a live NB. */
function setField(rt: RuntimeCore, fn: string, nb: PNET_BUFFER, off: number, v: number, name: string): void {
  checkNb(rt, fn, 'NetBuffer', nb);
  u32Arg(fn, name, v);
  rt.u32[(nb + off) >>> 2] = v;
}

export const netBufferApi = {
  /**
   * Creates a pool of NET_BUFFERs. NDIS 6 pools take no count: they grow until the runtime's
   * memory budget is spent.
   * @param NdisHandle a protocol handle or generic object (or NULL; the owner is recorded for
   *   POOL-6 and leak reports).
   * @param Parameters NET_BUFFER_POOL_PARAMETERS: Header {Type NDIS_OBJECT_TYPE_DEFAULT, Revision 1
   *   or 2, Size >= NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_n}, PoolTag, DataSize (set it
   *   only to allocate with NdisAllocateNetBufferMdlAndData), Flags (revision 2: 0 or
   *   NET_BUFFER_POOL_FLAG_VERIFY).
   * @returns the pool handle, or NULL when memory is exhausted.
   * @throws NdisBugCheck HDR-1 (0x7C/0x21) for a malformed header, POOL-1 for unknown Flags,
   *   PARAM for values outside their C types, ORIGIN for a bad NdisHandle.
   */
  NdisAllocateNetBufferPool(this: RuntimeCore, NdisHandle: NDIS_HANDLE | NULL, Parameters: NET_BUFFER_POOL_PARAMETERS): NDIS_HANDLE | NULL {
    const fn = 'NdisAllocateNetBufferPool';
    if (!isU32(NdisHandle)) throw badParam(fn, 'NdisHandle', NdisHandle, 'an NDIS_HANDLE or NULL (0)');
    if (typeof Parameters !== 'object' || Parameters === null) throw badParam(fn, 'Parameters', Parameters, 'a NET_BUFFER_POOL_PARAMETERS object');
    const rev = checkHeader(fn, Parameters.Header, NB_POOL_SIZES, 'NET_BUFFER_POOL_PARAMETERS');
    u32Arg(fn, 'Parameters.PoolTag', Parameters.PoolTag);
    u32Arg(fn, 'Parameters.DataSize', Parameters.DataSize);
    let flags = 0;
    if (rev >= NET_BUFFER_POOL_PARAMETERS_REVISION_2 && Parameters.Flags !== undefined) {
      flags = u32Arg(fn, 'Parameters.Flags', Parameters.Flags);
      if (flags & ~NET_BUFFER_POOL_FLAG_VERIFY) {
        throw ruleViolation(fn, 'Parameters.Flags', 'POOL-1', `0x${flags.toString(16)} has bits other than NET_BUFFER_POOL_FLAG_VERIFY`, flags);
      }
    }
    const r = this.wasm.nbPoolCreate(NdisHandle, Parameters.PoolTag, Parameters.DataSize, flags) >>> 0;
    if (r !== 0 && r < E.LIMIT) throw this.fail(fn, r, ['NdisHandle'], [NdisHandle], HANDLE_EXPECTED);
    return r as NDIS_HANDLE | NULL;
  },

  /**
   * Frees a NET_BUFFER pool; its handle is invalid afterwards.
   * @throws NdisBugCheck POOL-5 while NET_BUFFERs from it are outstanding.
   */
  NdisFreeNetBufferPool(this: RuntimeCore, PoolHandle: NDIS_HANDLE): void {
    const fn = 'NdisFreeNetBufferPool';
    checkPoolHandleArg(fn, PoolHandle);
    const e = this.wasm.nbPoolFree(PoolHandle) >>> 0;
    if (e !== E.OK) throw this.fail(fn, e, ['PoolHandle'], [PoolHandle], POOL_EXPECTED, 'ALT-POOL');
  },

  /**
   * Allocates a NET_BUFFER from a pool created with DataSize 0, over the caller's MDL chain.
   * With MdlChain NULL, DataOffset and DataLength must be 0 (NB-ARGS); otherwise
   * DataOffset + DataLength must fit the bytes the chain describes (NB-CONS). CurrentMdl and
   * CurrentMdlOffset are set from DataOffset. The caller's MDLs stay the caller's.
   * @returns the NET_BUFFER, or NULL when memory is exhausted.
   * @throws NdisBugCheck POOL-4 on a pool created with DataSize > 0.
   */
  NdisAllocateNetBuffer(this: RuntimeCore, PoolHandle: NDIS_HANDLE, MdlChain: PMDL | NULL, DataOffset: number, DataLength: number): PNET_BUFFER | NULL {
    const fn = 'NdisAllocateNetBuffer';
    checkPoolHandleArg(fn, PoolHandle);
    if (!isU32(MdlChain)) throw badParam(fn, 'MdlChain', MdlChain, 'a PMDL or NULL (0)');
    u32Arg(fn, 'DataOffset', DataOffset);
    u32Arg(fn, 'DataLength', DataLength);
    const r = this.wasm.nbAllocate(PoolHandle, MdlChain, DataOffset, DataLength) >>> 0;
    if (r !== 0 && r < E.LIMIT) {
      // A bad MDL may be any link of the chain: name the link the Wasm side stopped at.
      const chainErr = r < E.POOL4 && r >>> E.ARG_SHIFT === 1;
      const link = chainErr ? this.wasm.errPtr() >>> 0 : MdlChain;
      throw this.fail(fn, r, ['PoolHandle', 'MdlChain'], [PoolHandle, link, DataOffset, DataLength],
        chainErr && link !== MdlChain ? `an MDL (it is a link of the chain at ${hexAddr(MdlChain)})` : chainErr ? 'an MDL' : POOL_EXPECTED);
    }
    return r as PNET_BUFFER | NULL;
  },

  /**
   * Allocates a NET_BUFFER with its MDL and DataSize bytes of data in one slab object, from a
   * pool created with DataSize > 0. DataOffset is 0 and DataLength is DataSize; the data is
   * zeroed only when fresh from memory.grow (not on reuse). NdisFreeNetBuffer frees all three.
   * @returns the NET_BUFFER, or NULL when memory is exhausted.
   * @throws NdisBugCheck POOL-4 on a pool created with DataSize 0.
   */
  NdisAllocateNetBufferMdlAndData(this: RuntimeCore, PoolHandle: NDIS_HANDLE): PNET_BUFFER | NULL {
    checkPoolHandleArg('NdisAllocateNetBufferMdlAndData', PoolHandle);
    const w = this.worker;
    const r = (w === null ? this.wasm.nbAllocateMdlAndData(PoolHandle) : allocCached(this, w, PoolHandle)) >>> 0;
    if (r !== 0 && r < E.LIMIT) {
      throw this.fail('NdisAllocateNetBufferMdlAndData', r, ['PoolHandle'], [PoolHandle], POOL_EXPECTED);
    }
    return r as PNET_BUFFER | NULL;
  },

  /**
   * Frees a NET_BUFFER (with its MDL and data when it came from NdisAllocateNetBufferMdlAndData).
   * MDLs the caller chained stay allocated.
   * @throws NdisBugCheck ALT-NB (0xC2/0x07) for a double free; ORIGIN for anything that is not
   *   a NET_BUFFER from this runtime.
   */
  NdisFreeNetBuffer(this: RuntimeCore, NetBuffer: PNET_BUFFER): void {
    if (!isU32(NetBuffer)) throw badParam('NdisFreeNetBuffer', 'NetBuffer', NetBuffer, 'a PNET_BUFFER');
    const w = this.worker;
    if (w !== null && freeCached(this, w, NetBuffer)) return;
    const e = this.wasm.nbFree(NetBuffer) >>> 0;
    if (e !== E.OK) {
      throw this.fail('NdisFreeNetBuffer', e, ['NetBuffer'], [NetBuffer], 'a NET_BUFFER', 'ALT-NB');
    }
  },

  /** The pool a NET_BUFFER was allocated from. */
  NdisGetPoolFromNetBuffer(this: RuntimeCore, NetBuffer: PNET_BUFFER): NDIS_HANDLE {
    const fn = 'NdisGetPoolFromNetBuffer';
    if (!isU32(NetBuffer)) throw badParam(fn, 'NetBuffer', NetBuffer, 'a PNET_BUFFER');
    const r = this.wasm.nbPool(NetBuffer) >>> 0;
    if (r < E.LIMIT) throw this.fail(fn, r, ['NetBuffer'], [NetBuffer], 'a NET_BUFFER', 'ALT-NB');
    return r as NDIS_HANDLE;
  },

  // -- accessors (DESIGN D2) -------------------------------------------------------------------

  /** `NET_BUFFER_NEXT_NB(nb)`. */
  NET_BUFFER_NEXT_NB(this: RuntimeCore, NetBuffer: PNET_BUFFER): PNET_BUFFER | NULL {
    return field(this, 'NET_BUFFER_NEXT_NB', NetBuffer, NB.Next) as PNET_BUFFER | NULL;
  },
  /** `NET_BUFFER_FIRST_MDL(nb)` (MdlChain). */
  NET_BUFFER_FIRST_MDL(this: RuntimeCore, NetBuffer: PNET_BUFFER): PMDL | NULL {
    return field(this, 'NET_BUFFER_FIRST_MDL', NetBuffer, NB.MdlChain) as PMDL | NULL;
  },
  /** `NET_BUFFER_DATA_LENGTH(nb)`: bytes of used data space. */
  NET_BUFFER_DATA_LENGTH(this: RuntimeCore, NetBuffer: PNET_BUFFER): number {
    return field(this, 'NET_BUFFER_DATA_LENGTH', NetBuffer, NB.DataLength);
  },
  /** `NET_BUFFER_DATA_OFFSET(nb)`: bytes of unused data space (backfill). */
  NET_BUFFER_DATA_OFFSET(this: RuntimeCore, NetBuffer: PNET_BUFFER): number {
    return field(this, 'NET_BUFFER_DATA_OFFSET', NetBuffer, NB.DataOffset);
  },
  /** `NET_BUFFER_CURRENT_MDL(nb)`. */
  NET_BUFFER_CURRENT_MDL(this: RuntimeCore, NetBuffer: PNET_BUFFER): PMDL | NULL {
    return field(this, 'NET_BUFFER_CURRENT_MDL', NetBuffer, NB.CurrentMdl) as PMDL | NULL;
  },
  /** `NET_BUFFER_CURRENT_MDL_OFFSET(nb)`. */
  NET_BUFFER_CURRENT_MDL_OFFSET(this: RuntimeCore, NetBuffer: PNET_BUFFER): number {
    return field(this, 'NET_BUFFER_CURRENT_MDL_OFFSET', NetBuffer, NB.CurrentMdlOffset);
  },
  /** `NET_BUFFER_CHECKSUM_BIAS(nb)`. */
  NET_BUFFER_CHECKSUM_BIAS(this: RuntimeCore, NetBuffer: PNET_BUFFER): number {
    checkNb(this, 'NET_BUFFER_CHECKSUM_BIAS', 'NetBuffer', NetBuffer);
    return this.u16[(NetBuffer + NB.ChecksumBias) >>> 1]!;
  },
  /** `NET_BUFFER_PROTOCOL_RESERVED(nb)`: address of ProtocolReserved[6] (24 bytes). */
  NET_BUFFER_PROTOCOL_RESERVED(this: RuntimeCore, NetBuffer: PNET_BUFFER): PVOID {
    checkNb(this, 'NET_BUFFER_PROTOCOL_RESERVED', 'NetBuffer', NetBuffer);
    return (NetBuffer + NB.ProtocolReserved) as PVOID;
  },
  /** `NET_BUFFER_MINIPORT_RESERVED(nb)`: address of MiniportReserved[4] (16 bytes). */
  NET_BUFFER_MINIPORT_RESERVED(this: RuntimeCore, NetBuffer: PNET_BUFFER): PVOID {
    checkNb(this, 'NET_BUFFER_MINIPORT_RESERVED', 'NetBuffer', NetBuffer);
    return (NetBuffer + NB.MiniportReserved) as PVOID;
  },

  // -- setters (the fields a driver may write) ---------------------------------------------------

  /** `NET_BUFFER_NEXT_NB(nb) = Next;` (only the driver that allocated the NBs re-links them). */
  NET_BUFFER_NEXT_NB_SET(this: RuntimeCore, NetBuffer: PNET_BUFFER, Next: PNET_BUFFER | NULL): void {
    const fn = 'NET_BUFFER_NEXT_NB_SET';
    checkNb(this, fn, 'NetBuffer', NetBuffer);
    if (Next !== 0) checkNb(this, fn, 'Next', Next);
    if (Next === NetBuffer) throw ruleViolation(fn, 'Next', 'NB-CONS', `is the NET_BUFFER itself (${hexAddr(Next)}): the list would loop`, Next);
    this.u32[(NetBuffer + NB.Next) >>> 2] = Next;
  },
  /** `NET_BUFFER_FIRST_MDL(nb) = Mdl;` (set DataLength, DataOffset and the current pair too). */
  NET_BUFFER_FIRST_MDL_SET(this: RuntimeCore, NetBuffer: PNET_BUFFER, Mdl: PMDL | NULL): void {
    const fn = 'NET_BUFFER_FIRST_MDL_SET';
    checkNb(this, fn, 'NetBuffer', NetBuffer);
    if (Mdl !== 0) checkMdl(this, fn, 'Mdl', Mdl);
    this.u32[(NetBuffer + NB.MdlChain) >>> 2] = Mdl;
  },
  /** `NET_BUFFER_CURRENT_MDL(nb) = Mdl;` */
  NET_BUFFER_CURRENT_MDL_SET(this: RuntimeCore, NetBuffer: PNET_BUFFER, Mdl: PMDL | NULL): void {
    const fn = 'NET_BUFFER_CURRENT_MDL_SET';
    checkNb(this, fn, 'NetBuffer', NetBuffer);
    if (Mdl !== 0) checkMdl(this, fn, 'Mdl', Mdl);
    this.u32[(NetBuffer + NB.CurrentMdl) >>> 2] = Mdl;
  },
  /** `NET_BUFFER_CURRENT_MDL_OFFSET(nb) = Offset;` */
  NET_BUFFER_CURRENT_MDL_OFFSET_SET(this: RuntimeCore, NetBuffer: PNET_BUFFER, Offset: number): void {
    setField(this, 'NET_BUFFER_CURRENT_MDL_OFFSET_SET', NetBuffer, NB.CurrentMdlOffset, Offset, 'Offset');
  },
  /** `NET_BUFFER_DATA_LENGTH(nb) = Length;` */
  NET_BUFFER_DATA_LENGTH_SET(this: RuntimeCore, NetBuffer: PNET_BUFFER, Length: number): void {
    setField(this, 'NET_BUFFER_DATA_LENGTH_SET', NetBuffer, NB.DataLength, Length, 'Length');
  },
  /** `NET_BUFFER_DATA_OFFSET(nb) = Offset;` */
  NET_BUFFER_DATA_OFFSET_SET(this: RuntimeCore, NetBuffer: PNET_BUFFER, Offset: number): void {
    setField(this, 'NET_BUFFER_DATA_OFFSET_SET', NetBuffer, NB.DataOffset, Offset, 'Offset');
  },
  /** `NET_BUFFER_CHECKSUM_BIAS(nb) = Bias;` */
  NET_BUFFER_CHECKSUM_BIAS_SET(this: RuntimeCore, NetBuffer: PNET_BUFFER, Bias: number): void {
    const fn = 'NET_BUFFER_CHECKSUM_BIAS_SET';
    checkNb(this, fn, 'NetBuffer', NetBuffer);
    u16Arg(fn, 'Bias', Bias);
    this.u16[(NetBuffer + NB.ChecksumBias) >>> 1] = Bias;
  },
};

export type NetBufferApi = typeof netBufferApi;

/**
 * Bulk NET_BUFFER calls (idiomatic names: NDIS has no bulk NET_BUFFER call). One Wasm call each
 * in a single-worker runtime.
 */
export const nbBulkApi = {
  /**
   * Bulk form of NdisAllocateNetBufferMdlAndData (an ndis-pool extension: NDIS has no bulk
   * NET_BUFFER call): up to `count` (default `out.length`) NBs, each with its MDL and data, into
   * `out` in one boundary crossing (zero-copy when `out` comes from `runtime.u32Batch`).
   * @returns how many were allocated: fewer only when memory runs out, as the single call
   *   returns NULL.
   * @throws NdisBugCheck as NdisAllocateNetBufferMdlAndData for a bad pool handle (POOL-4 on a
   *   pool with DataSize 0), PARAM for `out` or `count`; nothing is allocated then.
   */
  allocateNetBuffersMdlAndData(this: RuntimeCore, PoolHandle: NDIS_HANDLE, out: Uint32Array, count?: number): number {
    const fn = 'allocateNetBuffersMdlAndData';
    checkPoolHandleArg(fn, PoolHandle);
    if (!(out instanceof Uint32Array)) throw badParam(fn, 'out', out, 'a Uint32Array');
    const n = count ?? out.length;
    if (!isU32(n) || n > out.length) throw badParam(fn, 'count', n, `an integer in [0, ${out.length}]`);
    const direct = batchAddressOf(this, out, fn, 'out');
    if (this.worker !== null) {
      // Multi-worker runtime: through this worker's cache, one at a time (the pool is checked by
      // the first call, before anything is allocated).
      let i = 0;
      for (; i < n; i++) {
        const nb = netBufferApi.NdisAllocateNetBufferMdlAndData.call(this, PoolHandle) as number;
        if (nb === 0) break;
        out[i] = nb;
      }
      return i;
    }
    const addr = direct || this.scratchU32(n);
    if (!addr) throw new RangeError(`${fn}: no memory for a ${n}-entry scratch list; pass an array from runtime.u32Batch`);
    const r = this.wasm.nbAllocateMdlAndDataMany(PoolHandle, addr, n) >>> 0;
    if (r >= 0x80000000) throw this.fail(fn, r & 0x7fffffff, ['PoolHandle'], [PoolHandle], POOL_EXPECTED);
    if (!direct) {
      this.sync();
      out.set(this.u32.subarray(addr >>> 2, (addr >>> 2) + r));
    }
    return r;
  },

  /**
   * Bulk form of NdisFreeNetBuffer (an ndis-pool extension): frees `count` (default all) of
   * `nbs` in one boundary crossing. All or nothing: every entry is checked as NdisFreeNetBuffer
   * checks it, a duplicate in the list included; on a bad one nothing is freed.
   * @throws NdisBugCheck naming the first bad entry (`nbs[i]`), as NdisFreeNetBuffer would.
   */
  freeNetBuffers(this: RuntimeCore, nbs: Uint32Array, count?: number): void {
    const fn = 'freeNetBuffers';
    if (!(nbs instanceof Uint32Array)) throw badParam(fn, 'nbs', nbs, 'a Uint32Array');
    const n = count ?? nbs.length;
    if (!isU32(n) || n > nbs.length) throw badParam(fn, 'count', n, `an integer in [0, ${nbs.length}]`);
    let addr = batchAddressOf(this, nbs, fn, 'nbs');
    if (!addr) {
      addr = this.scratchU32(n);
      if (!addr) throw new RangeError(`${fn}: no memory for a ${n}-entry scratch list; pass an array from runtime.u32Batch`);
      this.sync();
      this.u32.set(nbs.subarray(0, n), addr >>> 2);
    }
    // A multi-worker runtime checks them all here, then frees each through this worker's cache.
    const w = this.worker;
    const e = this.wasm.nbFreeMany(addr, n, w === null ? 1 : 0) >>> 0;
    if (e !== E.OK) {
      const i = this.wasm.errDetail() >>> 0;
      throw this.fail(fn, e, [`nbs[${i}]`], [nbs[i]!], 'a NET_BUFFER', 'ALT-NB');
    }
    if (w !== null) for (let i = 0; i < n; i++) netBufferApi.NdisFreeNetBuffer.call(this, nbs[i]! as PNET_BUFFER);
  },
};

export type NbBulkApi = typeof nbBulkApi;
