/**
 * NET_BUFFER_LIST pools, NET_BUFFER_LISTs, their contexts and accessors (NDIS-SPEC §2.1, §2.2,
 * §2.4, §4.2, §4.3), and chain helpers that run in one Wasm call each.
 */
import { RuntimeCore, isU32 } from '../core.js';
import { badParam, ruleViolation, hexAddr } from '../errors.js';
import {
  type NDIS_HANDLE, type NDIS_STATUS, type PNET_BUFFER, type PMDL, type PVOID, type NULL, type Brand,
  type NDIS_OBJECT_HEADER, NDIS_STATUS_SUCCESS, NDIS_STATUS_RESOURCES, MEMORY_ALLOCATION_ALIGNMENT,
} from './constants.js';
import { E, KIND, NBL, NBL_CONTEXT, MAX_NET_BUFFER_LIST_INFO } from './layout.js';
import { checkHeader, checkNb } from './netbuf.js';
import { u16Arg, u32Arg } from './handles.js';

/** PNET_BUFFER_LIST. */
export type PNET_BUFFER_LIST = Brand<'NET_BUFFER_LIST'>;

export const NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 = 1;
export const NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2 = 2;
/** RTL_SIZEOF_THROUGH_FIELD(NET_BUFFER_LIST_POOL_PARAMETERS, DataSize). */
export const NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 = 16;
/** Through `Flags`. */
export const NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2 = 20;
export const NET_BUFFER_LIST_POOL_FLAG_VERIFY = 0x00000001;
/** NetBufferListInfo index of the protocol ID (NDIS-SPEC §4.2; equal to NetBufferListFrameType). */
export const NetBufferListProtocolId = 7;
export const NetBufferListFrameType = 7;
/** Number of NetBufferListInfo slots in the emulated (NDIS 6.0, 32-bit) layout. */
export const MaxNetBufferListInfo = MAX_NET_BUFFER_LIST_INFO;

/** NET_BUFFER_LIST_POOL_PARAMETERS (Flags from revision 2). */
export interface NET_BUFFER_LIST_POOL_PARAMETERS {
  Header: NDIS_OBJECT_HEADER;
  ProtocolId: number;
  fAllocateNetBuffer: boolean | number;
  ContextSize: number;
  PoolTag: number;
  DataSize: number;
  Flags?: number;
}

const NBL_POOL_SIZES = {
  [NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1]: NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
  [NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2]: NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2,
};
const POOL_EXPECTED = 'a NET_BUFFER_LIST pool handle';
const HANDLE_EXPECTED = 'an NDIS handle (protocol handle or generic object) or NULL';

/** @internal Checks a live NET_BUFFER_LIST (JS side, O(1)). */
export function checkNbl(rt: RuntimeCore, fn: string, name: string, nbl: unknown): number {
  if (!isU32(nbl)) throw badParam(fn, name, nbl, 'a PNET_BUFFER_LIST');
  rt.sync();
  const r = rt.liveIn(nbl, KIND.NBL);
  if (r < E.LIMIT) throw rt.fail(fn, r, [name], [nbl], 'a NET_BUFFER_LIST', 'ALT-NBL');
  return nbl;
}

/** @internal A context size: USHORT and a multiple of `align` (CTX-ALIGN). */
function ctxArg(fn: string, name: string, v: unknown, align: number): number {
  u16Arg(fn, name, v);
  if ((v as number) % align !== 0) {
    throw ruleViolation(fn, name, 'CTX-ALIGN', `${v as number} is not a multiple of ${align}${align === MEMORY_ALLOCATION_ALIGNMENT ? ' (MEMORY_ALLOCATION_ALIGNMENT)' : ' (sizeof(PVOID))'}`, v as number, align);
  }
  return v as number;
}

function nblField(rt: RuntimeCore, fn: string, nbl: PNET_BUFFER_LIST, off: number): number {
  checkNbl(rt, fn, 'NetBufferList', nbl);
  return rt.u32[(nbl + off) >>> 2]!;
}

function setNblField(rt: RuntimeCore, fn: string, nbl: PNET_BUFFER_LIST, off: number, v: number, name: string): void {
  checkNbl(rt, fn, 'NetBufferList', nbl);
  u32Arg(fn, name, v);
  rt.u32[(nbl + off) >>> 2] = v;
}

function infoIndex(fn: string, id: unknown): number {
  if (!isU32(id) || id >= MAX_NET_BUFFER_LIST_INFO) throw badParam(fn, 'Id', id, `an NDIS_NET_BUFFER_LIST_INFO index in [0, ${MAX_NET_BUFFER_LIST_INFO - 1}]`);
  return id;
}

/** The reusable iterator of `nblChain`: one result object for the whole walk. */
class NblChainIterator implements IterableIterator<PNET_BUFFER_LIST> {
  readonly #rt: RuntimeCore;
  #next: number;
  readonly #result: IteratorResult<PNET_BUFFER_LIST> = { value: 0 as PNET_BUFFER_LIST, done: false };
  /** Loop detection (Floyd): a second cursor moving one link every other step. */
  #slow: number;
  #steps = 0;
  constructor(rt: RuntimeCore, head: number) {
    this.#rt = rt;
    this.#next = head;
    this.#slow = head;
  }
  next(): IteratorResult<PNET_BUFFER_LIST> {
    const r = this.#result;
    const p = this.#next;
    if (p === 0) {
      r.done = true;
      r.value = 0 as PNET_BUFFER_LIST;
      return r;
    }
    checkNbl(this.#rt, 'nblChain', 'NetBufferList', p);
    this.#next = this.#rt.u32[(p + NBL.Next) >>> 2]!;
    if ((++this.#steps & 1) === 0) {
      this.#slow = this.#rt.u32[(this.#slow + NBL.Next) >>> 2]!;
      if (this.#slow === this.#next && this.#next !== 0) {
        throw ruleViolation('nblChain', 'NetBufferListChain', 'PARAM', `loops back to ${hexAddr(this.#next)} after ${this.#steps} links`, this.#next);
      }
    }
    r.value = p as PNET_BUFFER_LIST;
    return r;
  }
  [Symbol.iterator](): IterableIterator<PNET_BUFFER_LIST> {
    return this;
  }
}

export const netBufferListApi = {
  /**
   * Creates a pool of NET_BUFFER_LISTs. Unbounded, like every NDIS 6 pool.
   * @param Parameters NET_BUFFER_LIST_POOL_PARAMETERS: Header (Revision 1 or 2, Size >= 16 / 20),
   *   ProtocolId (NDIS_PROTOCOL_ID_DEFAULT unless NdisHandle is a protocol handle), fAllocateNetBuffer
   *   (preallocate one NET_BUFFER per NBL), ContextSize (preallocated context bytes, a multiple
   *   of MEMORY_ALLOCATION_ALIGNMENT), PoolTag, DataSize (data per preallocated NB; needs
   *   fAllocateNetBuffer), Flags (revision 2: 0 or NET_BUFFER_LIST_POOL_FLAG_VERIFY).
   * @returns the pool handle, or NULL when memory is exhausted.
   * @throws NdisBugCheck HDR-1, POOL-1 (DataSize without fAllocateNetBuffer, ContextSize
   *   alignment, unknown Flags), POOL-2 (ProtocolId), PARAM, ORIGIN (NdisHandle).
   */
  NdisAllocateNetBufferListPool(this: RuntimeCore, NdisHandle: NDIS_HANDLE | NULL, Parameters: NET_BUFFER_LIST_POOL_PARAMETERS): NDIS_HANDLE | NULL {
    const fn = 'NdisAllocateNetBufferListPool';
    if (!isU32(NdisHandle)) throw badParam(fn, 'NdisHandle', NdisHandle, 'an NDIS_HANDLE or NULL (0)');
    if (typeof Parameters !== 'object' || Parameters === null) throw badParam(fn, 'Parameters', Parameters, 'a NET_BUFFER_LIST_POOL_PARAMETERS object');
    const rev = checkHeader(fn, Parameters.Header, NBL_POOL_SIZES, 'NET_BUFFER_LIST_POOL_PARAMETERS');
    const pid = Parameters.ProtocolId;
    if (!isU32(pid) || pid > 0xff) throw badParam(fn, 'Parameters.ProtocolId', pid, 'a UCHAR (integer 0..255)');
    const fa = Parameters.fAllocateNetBuffer;
    if (fa !== true && fa !== false && fa !== 0 && fa !== 1) throw badParam(fn, 'Parameters.fAllocateNetBuffer', fa, 'a BOOLEAN (true/false or 1/0)');
    const allocNb = fa === true || fa === 1;
    u16Arg(fn, 'Parameters.ContextSize', Parameters.ContextSize);
    if (Parameters.ContextSize % MEMORY_ALLOCATION_ALIGNMENT !== 0) {
      throw ruleViolation(fn, 'Parameters.ContextSize', 'POOL-1', `${Parameters.ContextSize} is not a multiple of MEMORY_ALLOCATION_ALIGNMENT (${MEMORY_ALLOCATION_ALIGNMENT})`, Parameters.ContextSize);
    }
    u32Arg(fn, 'Parameters.PoolTag', Parameters.PoolTag);
    u32Arg(fn, 'Parameters.DataSize', Parameters.DataSize);
    if (Parameters.DataSize !== 0 && !allocNb) {
      throw ruleViolation(fn, 'Parameters.DataSize', 'POOL-1', `${Parameters.DataSize} needs fAllocateNetBuffer TRUE (data is preallocated per NET_BUFFER)`, Parameters.DataSize);
    }
    let flags = 0;
    if (rev >= NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2 && Parameters.Flags !== undefined) {
      flags = u32Arg(fn, 'Parameters.Flags', Parameters.Flags);
      if (flags & ~NET_BUFFER_LIST_POOL_FLAG_VERIFY) {
        throw ruleViolation(fn, 'Parameters.Flags', 'POOL-1', `0x${flags.toString(16)} has bits other than NET_BUFFER_LIST_POOL_FLAG_VERIFY`, flags);
      }
    }
    const packed = (Parameters.ContextSize | (allocNb ? 0x10000 : 0) | (pid << 24)) >>> 0;
    const r = this.wasm.nblPoolCreate(NdisHandle, Parameters.PoolTag, Parameters.DataSize, flags, packed) >>> 0;
    if (r !== 0 && r < E.LIMIT) throw this.fail(fn, r, ['NdisHandle'], [NdisHandle], HANDLE_EXPECTED);
    return r as NDIS_HANDLE | NULL;
  },

  /** Frees a NET_BUFFER_LIST pool. @throws NdisBugCheck POOL-5 while NBLs are outstanding. */
  NdisFreeNetBufferListPool(this: RuntimeCore, PoolHandle: NDIS_HANDLE): void {
    const fn = 'NdisFreeNetBufferListPool';
    if (!isU32(PoolHandle)) throw badParam(fn, 'PoolHandle', PoolHandle, 'an NDIS_HANDLE');
    const e = this.wasm.nblPoolFree(PoolHandle) >>> 0;
    if (e !== E.OK) throw this.fail(fn, e, ['PoolHandle'], [PoolHandle], POOL_EXPECTED, 'ALT-POOL');
  },

  /** The pool a NET_BUFFER_LIST was allocated from. */
  NdisGetPoolFromNetBufferList(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): NDIS_HANDLE {
    const fn = 'NdisGetPoolFromNetBufferList';
    if (!isU32(NetBufferList)) throw badParam(fn, 'NetBufferList', NetBufferList, 'a PNET_BUFFER_LIST');
    const r = this.wasm.nblPool(NetBufferList) >>> 0;
    if (r < E.LIMIT) throw this.fail(fn, r, ['NetBufferList'], [NetBufferList], 'a NET_BUFFER_LIST', 'ALT-NBL');
    return r as NDIS_HANDLE;
  },

  /**
   * Allocates a NET_BUFFER_LIST: with its preallocated NET_BUFFER when the pool has
   * fAllocateNetBuffer (and that NB's MDL and DataSize bytes when the pool has DataSize), all in
   * one slab object. `ContextSize` bytes of context are in use (at NET_BUFFER_LIST_CONTEXT_DATA_START);
   * when that is more than the pool preallocates, a block of ContextSize + ContextBackFill is
   * allocated. Both sizes are multiples of MEMORY_ALLOCATION_ALIGNMENT (CTX-ALIGN).
   * @returns the NBL, or NULL when memory is exhausted.
   */
  NdisAllocateNetBufferList(this: RuntimeCore, PoolHandle: NDIS_HANDLE, ContextSize: number, ContextBackFill: number): PNET_BUFFER_LIST | NULL {
    const fn = 'NdisAllocateNetBufferList';
    if (!isU32(PoolHandle)) throw badParam(fn, 'PoolHandle', PoolHandle, 'an NDIS_HANDLE');
    ctxArg(fn, 'ContextSize', ContextSize, MEMORY_ALLOCATION_ALIGNMENT);
    ctxArg(fn, 'ContextBackFill', ContextBackFill, MEMORY_ALLOCATION_ALIGNMENT);
    const r = this.wasm.nblAllocate(PoolHandle, ContextSize, ContextBackFill) >>> 0;
    if (r !== 0 && r < E.LIMIT) throw this.fail(fn, r, ['PoolHandle'], [PoolHandle], POOL_EXPECTED);
    return r as PNET_BUFFER_LIST | NULL;
  },

  /**
   * Allocates a NET_BUFFER_LIST with one NET_BUFFER over the caller's MDL chain, from a pool with
   * fAllocateNetBuffer and DataSize 0 (POOL-3). MdlChain NULL needs DataOffset = DataLength = 0.
   * @returns the NBL, or NULL when memory is exhausted.
   */
  NdisAllocateNetBufferAndNetBufferList(
    this: RuntimeCore, PoolHandle: NDIS_HANDLE, ContextSize: number, ContextBackFill: number,
    MdlChain: PMDL | NULL, DataOffset: number, DataLength: number,
  ): PNET_BUFFER_LIST | NULL {
    const fn = 'NdisAllocateNetBufferAndNetBufferList';
    if (!isU32(PoolHandle)) throw badParam(fn, 'PoolHandle', PoolHandle, 'an NDIS_HANDLE');
    ctxArg(fn, 'ContextSize', ContextSize, MEMORY_ALLOCATION_ALIGNMENT);
    ctxArg(fn, 'ContextBackFill', ContextBackFill, MEMORY_ALLOCATION_ALIGNMENT);
    if (!isU32(MdlChain)) throw badParam(fn, 'MdlChain', MdlChain, 'a PMDL or NULL (0)');
    u32Arg(fn, 'DataOffset', DataOffset);
    u32Arg(fn, 'DataLength', DataLength);
    const r = this.wasm.nblAllocateWithNb(PoolHandle, ContextSize, ContextBackFill, MdlChain, DataOffset, DataLength) >>> 0;
    if (r !== 0 && r < E.LIMIT) {
      const chainErr = r < E.POOL4 && r >>> E.ARG_SHIFT === 3;
      const link = chainErr ? this.wasm.errPtr() >>> 0 : MdlChain;
      // NB-ARGS / NB-CONS messages read DataOffset and DataLength from values[2], values[3].
      if (r === E.NB_ARGS || r === E.NB_RANGE) throw this.fail(fn, r, ['PoolHandle', 'MdlChain'], [PoolHandle, MdlChain, DataOffset, DataLength], POOL_EXPECTED);
      throw this.fail(fn, r, ['PoolHandle', '', '', 'MdlChain'], [PoolHandle, 0, 0, link], chainErr ? 'an MDL' : POOL_EXPECTED);
    }
    return r as PNET_BUFFER_LIST | NULL;
  },

  /**
   * Frees a NET_BUFFER_LIST with what was preallocated with it (its NB, MDL, data and context).
   * NBs the driver attached itself are not freed (DESIGN decision 10).
   * @throws NdisBugCheck NBL-FREE-2 while context added by NdisAllocateNetBufferListContext is
   *   still there; ALT-NBL for a double free.
   */
  NdisFreeNetBufferList(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): void {
    const fn = 'NdisFreeNetBufferList';
    if (!isU32(NetBufferList)) throw badParam(fn, 'NetBufferList', NetBufferList, 'a PNET_BUFFER_LIST');
    if (this.nblsAway.size !== 0) this.checkNotAway(fn, 'NetBufferList', NetBufferList);
    const e = this.wasm.nblFree(NetBufferList) >>> 0;
    if (e !== E.OK) throw this.fail(fn, e, ['NetBufferList'], [NetBufferList], 'a NET_BUFFER_LIST', 'ALT-NBL');
  },

  /**
   * Makes `ContextSize` more bytes of context space used: from the unused part of the current
   * context block when it is big enough, else from a new block of ContextSize + ContextBackFill
   * bytes tagged `PoolTag`. Sizes are multiples of sizeof(PVOID) = 4 (CTX-ALIGN).
   * @returns NDIS_STATUS_SUCCESS or NDIS_STATUS_RESOURCES (nothing changed).
   */
  NdisAllocateNetBufferListContext(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST, ContextSize: number, ContextBackFill: number, PoolTag: number): NDIS_STATUS {
    const fn = 'NdisAllocateNetBufferListContext';
    checkNbl(this, fn, 'NetBufferList', NetBufferList);
    ctxArg(fn, 'ContextSize', ContextSize, 4);
    ctxArg(fn, 'ContextBackFill', ContextBackFill, 4);
    u32Arg(fn, 'PoolTag', PoolTag);
    const e = this.wasm.ctxAllocate(NetBufferList, ContextSize, ContextBackFill, PoolTag) >>> 0;
    if (e === E.RESOURCES) return NDIS_STATUS_RESOURCES;
    if (e !== E.OK) throw this.fail(fn, e, ['NetBufferList'], [NetBufferList], 'a NET_BUFFER_LIST');
    return NDIS_STATUS_SUCCESS;
  },

  /**
   * Releases `ContextSize` bytes of context space from the last NdisAllocateNetBufferListContext;
   * a block that call added is freed once entirely unused.
   * @throws NdisBugCheck NBL-FREE-2 when this would release the context the NBL came with, or
   *   more than is in use.
   */
  NdisFreeNetBufferListContext(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST, ContextSize: number): void {
    const fn = 'NdisFreeNetBufferListContext';
    checkNbl(this, fn, 'NetBufferList', NetBufferList);
    ctxArg(fn, 'ContextSize', ContextSize, 4);
    const e = this.wasm.ctxFree(NetBufferList, ContextSize) >>> 0;
    if (e !== E.OK) throw this.fail(fn, e, ['NetBufferList'], [NetBufferList, ContextSize], 'a NET_BUFFER_LIST');
  },

  /** `NET_BUFFER_LIST_CONTEXT_DATA_START(nbl)`: address of the used context space. */
  NET_BUFFER_LIST_CONTEXT_DATA_START(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): PVOID {
    const fn = 'NET_BUFFER_LIST_CONTEXT_DATA_START';
    const ctx = nblField(this, fn, NetBufferList, NBL.Context);
    if (ctx === 0) throw ruleViolation(fn, 'NetBufferList', 'PARAM', `${hexAddr(NetBufferList)} has no context (its pool has ContextSize 0 and none was allocated)`, NetBufferList);
    return (ctx + NBL_CONTEXT.ContextData + this.u16[(ctx + NBL_CONTEXT.Offset) >>> 1]!) as PVOID;
  },

  /**
   * `NET_BUFFER_LIST_CONTEXT_DATA_SIZE(nbl)`: the current block's Size (used + unused bytes),
   * as the macro returns (DESIGN decision 12). 0 when the NBL has no context.
   */
  NET_BUFFER_LIST_CONTEXT_DATA_SIZE(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): number {
    const ctx = nblField(this, 'NET_BUFFER_LIST_CONTEXT_DATA_SIZE', NetBufferList, NBL.Context);
    return ctx === 0 ? 0 : this.u16[(ctx + NBL_CONTEXT.Size) >>> 1]!;
  },

  /** `NdisGetNetBufferListProtocolId(nbl)`: NetBufferListInfo[NetBufferListProtocolId] as a UCHAR. */
  NdisGetNetBufferListProtocolId(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): number {
    return nblField(this, 'NdisGetNetBufferListProtocolId', NetBufferList, NBL.NetBufferListInfo + NetBufferListProtocolId * 4) & 0xff;
  },

  /** `NdisSetNetBufferListProtocolId(nbl, id)`. */
  NdisSetNetBufferListProtocolId(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST, ProtocolId: number): void {
    const fn = 'NdisSetNetBufferListProtocolId';
    checkNbl(this, fn, 'NetBufferList', NetBufferList);
    if (!isU32(ProtocolId) || ProtocolId > 0xff) throw badParam(fn, 'ProtocolId', ProtocolId, 'a UCHAR (integer 0..255)');
    this.u32[(NetBufferList + NBL.NetBufferListInfo + NetBufferListProtocolId * 4) >>> 2] = ProtocolId;
  },

  // -- accessors (DESIGN D2) -------------------------------------------------------------------

  /** `NET_BUFFER_LIST_NEXT_NBL(nbl)`. */
  NET_BUFFER_LIST_NEXT_NBL(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): PNET_BUFFER_LIST | NULL {
    return nblField(this, 'NET_BUFFER_LIST_NEXT_NBL', NetBufferList, NBL.Next) as PNET_BUFFER_LIST | NULL;
  },
  /** `NET_BUFFER_LIST_NEXT_NBL(nbl) = Next;` (the current owner may re-link NBLs). */
  NET_BUFFER_LIST_NEXT_NBL_SET(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST, Next: PNET_BUFFER_LIST | NULL): void {
    const fn = 'NET_BUFFER_LIST_NEXT_NBL_SET';
    checkNbl(this, fn, 'NetBufferList', NetBufferList);
    if (Next !== 0) checkNbl(this, fn, 'Next', Next);
    if (Next === NetBufferList) throw ruleViolation(fn, 'Next', 'PARAM', `is the NET_BUFFER_LIST itself (${hexAddr(Next)}): the chain would loop`, Next);
    this.u32[(NetBufferList + NBL.Next) >>> 2] = Next;
  },
  /** `NET_BUFFER_LIST_FIRST_NB(nbl)`. */
  NET_BUFFER_LIST_FIRST_NB(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): PNET_BUFFER | NULL {
    return nblField(this, 'NET_BUFFER_LIST_FIRST_NB', NetBufferList, NBL.FirstNetBuffer) as PNET_BUFFER | NULL;
  },
  /** `NET_BUFFER_LIST_FIRST_NB(nbl) = Nb;` (a driver attaching NBs it allocated). */
  NET_BUFFER_LIST_FIRST_NB_SET(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST, NetBuffer: PNET_BUFFER | NULL): void {
    const fn = 'NET_BUFFER_LIST_FIRST_NB_SET';
    checkNbl(this, fn, 'NetBufferList', NetBufferList);
    if (NetBuffer !== 0) checkNb(this, fn, 'NetBuffer', NetBuffer);
    this.u32[(NetBufferList + NBL.FirstNetBuffer) >>> 2] = NetBuffer;
  },
  /** `NET_BUFFER_LIST_STATUS(nbl)` (a signed NDIS_STATUS). */
  NET_BUFFER_LIST_STATUS(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): NDIS_STATUS {
    return nblField(this, 'NET_BUFFER_LIST_STATUS', NetBufferList, NBL.Status) | 0;
  },
  /** `NET_BUFFER_LIST_STATUS(nbl) = Status;` */
  NET_BUFFER_LIST_STATUS_SET(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST, Status: NDIS_STATUS): void {
    const fn = 'NET_BUFFER_LIST_STATUS_SET';
    checkNbl(this, fn, 'NetBufferList', NetBufferList);
    if (!Number.isInteger(Status) || Status < -0x80000000 || Status > 0xffffffff) throw badParam(fn, 'Status', Status, 'an NDIS_STATUS (32-bit integer)');
    this.u32[(NetBufferList + NBL.Status) >>> 2] = Status >>> 0;
  },
  /** `NET_BUFFER_LIST_FLAGS(nbl)` (the Flags word with its reserved masks). */
  NET_BUFFER_LIST_FLAGS(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): number {
    return nblField(this, 'NET_BUFFER_LIST_FLAGS', NetBufferList, NBL.Flags);
  },
  /** `NET_BUFFER_LIST_FLAGS(nbl) = Flags;` */
  NET_BUFFER_LIST_FLAGS_SET(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST, Flags: number): void {
    setNblField(this, 'NET_BUFFER_LIST_FLAGS_SET', NetBufferList, NBL.Flags, Flags, 'Flags');
  },
  /** `NET_BUFFER_LIST_NBL_FLAGS(nbl)` (NblFlags: NDIS_NBL_FLAGS_*). */
  NET_BUFFER_LIST_NBL_FLAGS(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): number {
    return nblField(this, 'NET_BUFFER_LIST_NBL_FLAGS', NetBufferList, NBL.NblFlags);
  },
  /** `NET_BUFFER_LIST_NBL_FLAGS(nbl) = NblFlags;` */
  NET_BUFFER_LIST_NBL_FLAGS_SET(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST, NblFlags: number): void {
    setNblField(this, 'NET_BUFFER_LIST_NBL_FLAGS_SET', NetBufferList, NBL.NblFlags, NblFlags, 'NblFlags');
  },
  /** `NET_BUFFER_LIST_INFO(nbl, Id)`: the PVOID in NetBufferListInfo[Id]. */
  NET_BUFFER_LIST_INFO(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST, Id: number): number {
    const fn = 'NET_BUFFER_LIST_INFO';
    checkNbl(this, fn, 'NetBufferList', NetBufferList);
    return this.u32[(NetBufferList + NBL.NetBufferListInfo + infoIndex(fn, Id) * 4) >>> 2]!;
  },
  /** `NET_BUFFER_LIST_INFO(nbl, Id) = Value;` */
  NET_BUFFER_LIST_INFO_SET(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST, Id: number, Value: number): void {
    const fn = 'NET_BUFFER_LIST_INFO_SET';
    checkNbl(this, fn, 'NetBufferList', NetBufferList);
    const i = infoIndex(fn, Id);
    u32Arg(fn, 'Value', Value);
    this.u32[(NetBufferList + NBL.NetBufferListInfo + i * 4) >>> 2] = Value;
  },
  /** `NET_BUFFER_LIST_PROTOCOL_RESERVED(nbl)`: address of ProtocolReserved[4] (16 bytes). */
  NET_BUFFER_LIST_PROTOCOL_RESERVED(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): PVOID {
    checkNbl(this, 'NET_BUFFER_LIST_PROTOCOL_RESERVED', 'NetBufferList', NetBufferList);
    return (NetBufferList + NBL.ProtocolReserved) as PVOID;
  },
  /** `NET_BUFFER_LIST_MINIPORT_RESERVED(nbl)`: address of MiniportReserved[2] (8 bytes). */
  NET_BUFFER_LIST_MINIPORT_RESERVED(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): PVOID {
    checkNbl(this, 'NET_BUFFER_LIST_MINIPORT_RESERVED', 'NetBufferList', NetBufferList);
    return (NetBufferList + NBL.MiniportReserved) as PVOID;
  },
  /** `NET_BUFFER_LIST_CONTEXT(nbl)`: the current NET_BUFFER_LIST_CONTEXT block (NULL: none). */
  NET_BUFFER_LIST_CONTEXT(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): PVOID | NULL {
    return nblField(this, 'NET_BUFFER_LIST_CONTEXT', NetBufferList, NBL.Context) as PVOID | NULL;
  },
  /** `NetBufferList->SourceHandle` (a miniport sets it before indicating receives). */
  NET_BUFFER_LIST_SOURCE_HANDLE(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): NDIS_HANDLE | NULL {
    return nblField(this, 'NET_BUFFER_LIST_SOURCE_HANDLE', NetBufferList, NBL.SourceHandle) as NDIS_HANDLE | NULL;
  },
  /** `NetBufferList->SourceHandle = Handle;` */
  NET_BUFFER_LIST_SOURCE_HANDLE_SET(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST, SourceHandle: NDIS_HANDLE | NULL): void {
    setNblField(this, 'NET_BUFFER_LIST_SOURCE_HANDLE_SET', NetBufferList, NBL.SourceHandle, SourceHandle, 'SourceHandle');
  },
};

export type NetBufferListApi = typeof netBufferListApi;

/** Chain helpers (idiomatic names: NDIS has no single call for these). One Wasm call each. */
export const nblChainApi = {
  /**
   * Frees every NET_BUFFER_LIST of a Next-linked chain in one call, as NdisFreeNetBufferList
   * would one by one. All or nothing: every link is checked first.
   * @returns the number of NBLs freed.
   */
  freeNetBufferListChain(this: RuntimeCore, NetBufferListChain: PNET_BUFFER_LIST | NULL): number {
    const fn = 'freeNetBufferListChain';
    if (!isU32(NetBufferListChain)) throw badParam(fn, 'NetBufferListChain', NetBufferListChain, 'a PNET_BUFFER_LIST or NULL (0)');
    if (this.nblsAway.size !== 0) {
      // Check the whole chain first (all or nothing), then that none of it is away.
      const c = this.wasm.nblCountChain(NetBufferListChain) >>> 0;
      if (c !== E.OK) throw chainFail(this, fn, c, NetBufferListChain);
      this.sync();
      for (let p: number = NetBufferListChain, i = 0; p !== 0; p = this.rd32(p), i++) this.checkNotAway(fn, `NetBufferListChain[${i}]`, p);
    }
    const e = this.wasm.nblFreeChain(NetBufferListChain) >>> 0;
    if (e !== E.OK) throw chainFail(this, fn, e, NetBufferListChain);
    return this.wasm.lastResult() >>> 0;
  },
  /** Number of NET_BUFFER_LISTs in a chain (each link checked). */
  countNetBufferLists(this: RuntimeCore, NetBufferListChain: PNET_BUFFER_LIST | NULL): number {
    const fn = 'countNetBufferLists';
    if (!isU32(NetBufferListChain)) throw badParam(fn, 'NetBufferListChain', NetBufferListChain, 'a PNET_BUFFER_LIST or NULL (0)');
    const e = this.wasm.nblCountChain(NetBufferListChain) >>> 0;
    if (e !== E.OK) throw chainFail(this, fn, e, NetBufferListChain);
    return this.wasm.lastResult() >>> 0;
  },
  /** Number of NET_BUFFERs on every NET_BUFFER_LIST of a chain. */
  countNetBuffers(this: RuntimeCore, NetBufferListChain: PNET_BUFFER_LIST | NULL): number {
    const fn = 'countNetBuffers';
    if (!isU32(NetBufferListChain)) throw badParam(fn, 'NetBufferListChain', NetBufferListChain, 'a PNET_BUFFER_LIST or NULL (0)');
    const e = this.wasm.nbCountChain(NetBufferListChain) >>> 0;
    if (e !== E.OK) throw chainFail(this, fn, e, NetBufferListChain);
    return this.wasm.lastResult() >>> 0;
  },
  /**
   * Iterates a Next-linked chain: `for (const nbl of rt.nblChain(head))`. One iterator and one
   * result object for the whole walk: no JS object per element. Each NBL is checked as reached.
   */
  nblChain(this: RuntimeCore, NetBufferListChain: PNET_BUFFER_LIST | NULL): IterableIterator<PNET_BUFFER_LIST> {
    if (!isU32(NetBufferListChain)) throw badParam('nblChain', 'NetBufferListChain', NetBufferListChain, 'a PNET_BUFFER_LIST or NULL (0)');
    return new NblChainIterator(this, NetBufferListChain);
  },
};

export type NblChainApi = typeof nblChainApi;

/** @internal The bug check of a chain call: names the bad link and its position. */
export function chainFail(rt: RuntimeCore, fn: string, e: number, head: number) {
  const link = rt.wasm.errPtr() >>> 0;
  const index = rt.wasm.errDetail() >>> 0;
  if (e === E.NBL_LOOP) return rt.fail(fn, e, ['NetBufferListChain'], [head], 'a NET_BUFFER_LIST chain');
  if (e === E.NBL_FREE2) return rt.fail(fn, e, [`NetBufferListChain[${index}]`], [link], 'a NET_BUFFER_LIST');
  return rt.fail(fn, e, [`NetBufferListChain[${index}]`], [link], 'a NET_BUFFER_LIST', 'ALT-NBL');
}
