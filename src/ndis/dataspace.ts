/**
 * The NET_BUFFER data space (NDIS-SPEC §2.3, §2.4, §5): retreat and advance (NB and NBL forms),
 * NdisAdjustNetBufferCurrentMdl, NdisGetDataBuffer, NdisCopyFromNetBufferToNetBuffer and
 * NdisQueryNetBufferPhysicalCount. The work is done in Wasm; the MDL handlers are JS functions.
 */
import { RuntimeCore, isU32 } from '../core.js';
import { badParam, ruleViolation, hexAddr } from '../errors.js';
import {
  type NDIS_STATUS, type PNET_BUFFER, type PMDL, type PVOID, type NULL, type Out,
  NDIS_STATUS_SUCCESS, NDIS_STATUS_RESOURCES, NDIS_STATUS_FAILURE,
} from './constants.js';
import { E, MDLR, NB, NBL, MDL } from './layout.js';
import { checkNb } from './netbuf.js';
import { checkMdl, isOut, u32Arg } from './handles.js';
import { checkNbl, type PNET_BUFFER_LIST } from './nbl.js';

/** NET_BUFFER_ALLOCATE_MDL: gets `BufferSize.value` (bytes needed), returns an MDL or NULL. */
export type NET_BUFFER_ALLOCATE_MDL = (BufferSize: Out<number>) => PMDL | NULL;
/** NET_BUFFER_FREE_MDL: frees an MDL its NET_BUFFER_ALLOCATE_MDL counterpart returned. */
export type NET_BUFFER_FREE_MDL = (Mdl: PMDL) => void;

const { NEED_ALLOC: E_NEED_ALLOC, STATUS_FAILURE: E_STATUS_FAILURE, ADV1: E_ADV1, ADV2: E_ADV2, GDB1: E_GDB1, BAD_HANDLER_MDL: E_BAD_HANDLER_MDL } = E;
const { DEFAULT: MDLR_DEFAULT, HANDLER: MDLR_HANDLER } = MDLR;

function checkHandler(fn: string, name: string, h: unknown): void {
  if (h !== undefined && h !== null && typeof h !== 'function') throw badParam(fn, name, h, 'a function or NULL');
}

function checkBool(fn: string, name: string, v: unknown): boolean {
  if (v !== true && v !== false && v !== 0 && v !== 1) throw badParam(fn, name, v, 'a BOOLEAN (true/false or 1/0)');
  return v === true || v === 1;
}

/** Turns a data-space error code into a bug check. */
function dsFail(rt: RuntimeCore, fn: string, e: number, nb: number, extra: { mdl?: number; other?: number } = {}) {
  const p = rt.wasm.errPtr() >>> 0;
  const d = rt.wasm.errDetail() >>> 0;
  switch (e) {
    case E_ADV1:
      return ruleViolation(fn, 'DataOffsetDelta', 'ADV-1', `is more than the DataLength (${d}) of NET_BUFFER ${hexAddr(nb)}: advance cannot shrink the used space below 0`, nb, d);
    case E_ADV2:
      return ruleViolation(fn, 'FreeMdl', 'ADV-2', `${hexAddr(p)} was allocated by a retreat's NET_BUFFER_ALLOCATE_MDL handler; free it through a NET_BUFFER_FREE_MDL handler`, p);
    case E_BAD_HANDLER_MDL:
      return ruleViolation(fn, 'AllocateMdlHandler', 'PARAM', `returned ${hexAddr(p)}, which is linked to another MDL, already used by a retreat, or too small`, p, d);
    case E.NB_RANGE:
      return ruleViolation(fn, 'NetBuffer', 'NB-CONS', `${hexAddr(p)} has DataOffset + DataLength beyond the ${d} bytes its MDL chain describes`, p, d);
    case E.MDL_LOOP:
      return ruleViolation(fn, 'NetBuffer', 'NB-CONS', `has an MDL chain that loops back on itself (at ${hexAddr(p)})`, p);
  }
  const arg = e >>> E.ARG_SHIFT;
  const names = ['NetBuffer', 'Mdl', '', 'Source'];
  const values = [nb, extra.mdl ?? p, 0, extra.other ?? p];
  return rt.fail(fn, e, names, values, arg === 1 ? 'an MDL' : 'a NET_BUFFER with a valid MDL chain', 'ALT-NB');
}

/** Retreat of one NB; returns the status and, when an MDL was prepended, how to undo it. */
function retreatOne(
  rt: RuntimeCore, fn: string, nb: number, delta: number, backFill: number, handler: NET_BUFFER_ALLOCATE_MDL | null | undefined,
): [NDIS_STATUS, number, number] {
  const x = rt.wasm;
  const r = x.nbRetreatFast(nb, delta) >>> 0;
  if (r === E.OK) return [NDIS_STATUS_SUCCESS, 0, 0];
  if (r === E_STATUS_FAILURE) return [NDIS_STATUS_FAILURE, 0, 0];
  if (r !== E_NEED_ALLOC) throw dsFail(rt, fn, r, nb);
  const size = delta + backFill;
  if (size > 0xffffffff) return [NDIS_STATUS_FAILURE, 0, 0];
  let mdl: number;
  let flags: number;
  if (handler) {
    const box = { value: size };
    const m = handler(box);
    if (!m) return [NDIS_STATUS_RESOURCES, 0, 0];
    checkMdl(rt, fn, 'AllocateMdlHandler result', m);
    rt.sync();
    if (rt.rd32(m + MDL.ByteCount) < size) {
      throw ruleViolation(fn, 'AllocateMdlHandler', 'PARAM', `returned ${hexAddr(m)} describing ${rt.rd32(m + MDL.ByteCount)} bytes; ${size} were asked for`, m, size);
    }
    mdl = m;
    flags = MDLR_HANDLER;
  } else {
    mdl = x.retreatAllocDefault(size) >>> 0;
    if (mdl === 0) return [NDIS_STATUS_RESOURCES, 0, 0];
    flags = MDLR_DEFAULT;
  }
  const e = x.nbPrepend(nb, mdl, delta, flags) >>> 0;
  if (e !== E.OK) {
    if (flags === MDLR_DEFAULT) x.retreatFreeDefault(mdl);
    throw dsFail(rt, fn, e, nb, { mdl });
  }
  return [NDIS_STATUS_SUCCESS, mdl, flags];
}

/** NB fields a rollback restores. */
function snapshot(rt: RuntimeCore, nb: number): number[] {
  rt.sync();
  return [NB.MdlChain, NB.CurrentMdl, NB.CurrentMdlOffset, NB.DataOffset, NB.DataLength].map((o) => rt.rd32(nb + o));
}

function restore(rt: RuntimeCore, nb: number, s: number[]): void {
  rt.sync();
  [NB.MdlChain, NB.CurrentMdl, NB.CurrentMdlOffset, NB.DataOffset, NB.DataLength].forEach((o, i) => {
    rt.u32[(nb + o) >>> 2] = s[i]!;
  });
}

/** The NBs of an NBL (loop-checked by countNetBuffers first). */
function nbsOf(rt: RuntimeCore, fn: string, nbl: number): number[] {
  checkNbl(rt, fn, 'NetBufferList', nbl);
  const e = rt.wasm.nbCountChain(nbl) >>> 0; // also checks the NBL chain from here on
  if (e !== E.OK) throw rt.fail(fn, e, ['NetBufferList'], [nbl], 'a NET_BUFFER_LIST');
  const out: number[] = [];
  rt.sync();
  for (let nb = rt.rd32(nbl + NBL.FirstNetBuffer); nb !== 0; nb = rt.rd32(nb + NB.Next)) out.push(checkNb(rt, fn, 'NetBufferList (one of its NET_BUFFERs)', nb));
  return out;
}

export const dataSpaceApi = {
  /**
   * Grows the used data space of a NET_BUFFER by `DataOffsetDelta` bytes toward the front.
   * Within the unused space (delta <= DataOffset) only DataOffset moves. Otherwise a buffer and
   * MDL of DataOffsetDelta + DataBackFill bytes (from `AllocateMdlHandler`, or the default
   * allocator) is chained at the front; the used data stays contiguous and keeps its bytes.
   * @returns NDIS_STATUS_SUCCESS, NDIS_STATUS_RESOURCES (allocation failed; nothing changed) or
   *   NDIS_STATUS_FAILURE (DataLength would overflow 32 bits).
   */
  NdisRetreatNetBufferDataStart(
    this: RuntimeCore, NetBuffer: PNET_BUFFER, DataOffsetDelta: number, DataBackFill: number,
    AllocateMdlHandler?: NET_BUFFER_ALLOCATE_MDL | null,
  ): NDIS_STATUS {
    const fn = 'NdisRetreatNetBufferDataStart';
    checkNb(this, fn, 'NetBuffer', NetBuffer);
    u32Arg(fn, 'DataOffsetDelta', DataOffsetDelta);
    u32Arg(fn, 'DataBackFill', DataBackFill);
    checkHandler(fn, 'AllocateMdlHandler', AllocateMdlHandler);
    return retreatOne(this, fn, NetBuffer, DataOffsetDelta, DataBackFill, AllocateMdlHandler)[0];
  },

  /**
   * Shrinks the used data space by `DataOffsetDelta` bytes from the front (ADV-1 beyond
   * DataLength). With `FreeMdl` TRUE, MDLs a retreat allocated that are now entirely unused are
   * freed: the default allocator's here, a handler's through `FreeMdlHandler` (ADV-2 without
   * one). With FreeMdl FALSE they stay for the next retreat (receive paths pass FALSE).
   */
  NdisAdvanceNetBufferDataStart(
    this: RuntimeCore, NetBuffer: PNET_BUFFER, DataOffsetDelta: number, FreeMdl: boolean | number,
    FreeMdlHandler?: NET_BUFFER_FREE_MDL | null,
  ): void {
    const fn = 'NdisAdvanceNetBufferDataStart';
    checkNb(this, fn, 'NetBuffer', NetBuffer);
    u32Arg(fn, 'DataOffsetDelta', DataOffsetDelta);
    const free = checkBool(fn, 'FreeMdl', FreeMdl);
    checkHandler(fn, 'FreeMdlHandler', FreeMdlHandler);
    advanceOne(this, fn, NetBuffer, DataOffsetDelta, free, FreeMdlHandler);
  },

  /**
   * Retreats every NET_BUFFER of the NBL. All or nothing (DESIGN decision 3): on a failure the
   * NBs already retreated are restored and their new MDLs freed.
   */
  NdisRetreatNetBufferListDataStart(
    this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST, DataOffsetDelta: number, DataBackFill: number,
    AllocateMdlHandler?: NET_BUFFER_ALLOCATE_MDL | null, FreeMdlHandler?: NET_BUFFER_FREE_MDL | null,
  ): NDIS_STATUS {
    const fn = 'NdisRetreatNetBufferListDataStart';
    u32Arg(fn, 'DataOffsetDelta', DataOffsetDelta);
    u32Arg(fn, 'DataBackFill', DataBackFill);
    checkHandler(fn, 'AllocateMdlHandler', AllocateMdlHandler);
    checkHandler(fn, 'FreeMdlHandler', FreeMdlHandler);
    const nbs = nbsOf(this, fn, NetBufferList);
    // Every NB's chain is checked (NB-CONS) before any retreat allocates: a bad NB later in the
    // list must not leave the earlier NBs' MDL allocations in the counters.
    for (const nb of nbs) {
      const e = this.wasm.nbAdvanceCheck(nb, 0, 0, 0) >>> 0;
      if (e !== E.OK) throw dsFail(this, fn, e, nb);
    }
    const done: [number, number[], number, number][] = [];
    for (const nb of nbs) {
      const before = snapshot(this, nb);
      let status: NDIS_STATUS;
      let mdl = 0;
      let flags = 0;
      try {
        [status, mdl, flags] = retreatOne(this, fn, nb, DataOffsetDelta, DataBackFill, AllocateMdlHandler);
      } catch (err) {
        rollback(this, done, FreeMdlHandler);
        throw err;
      }
      if (status !== NDIS_STATUS_SUCCESS) {
        rollback(this, done, FreeMdlHandler);
        return status;
      }
      done.push([nb, before, mdl, flags]);
    }
    return NDIS_STATUS_SUCCESS;
  },

  /** Advances every NET_BUFFER of the NBL (each must hold DataOffsetDelta used bytes: ADV-1). */
  NdisAdvanceNetBufferListDataStart(
    this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST, DataOffsetDelta: number, FreeMdl: boolean | number,
    FreeMdlHandler?: NET_BUFFER_FREE_MDL | null,
  ): void {
    const fn = 'NdisAdvanceNetBufferListDataStart';
    u32Arg(fn, 'DataOffsetDelta', DataOffsetDelta);
    const free = checkBool(fn, 'FreeMdl', FreeMdl);
    checkHandler(fn, 'FreeMdlHandler', FreeMdlHandler);
    const nbs = nbsOf(this, fn, NetBufferList);
    // Every NB is checked (chain, ADV-1, ADV-2) before any moves: all or nothing.
    for (const nb of nbs) {
      const e = this.wasm.nbAdvanceCheck(nb, DataOffsetDelta, free ? 1 : 0, FreeMdlHandler ? 1 : 0) >>> 0;
      if (e !== E.OK) throw dsFail(this, fn, e, nb);
    }
    for (const nb of nbs) advanceOne(this, fn, nb, DataOffsetDelta, free, FreeMdlHandler);
  },

  /** Recomputes CurrentMdl / CurrentMdlOffset from DataOffset (DESIGN decision 4). */
  NdisAdjustNetBufferCurrentMdl(this: RuntimeCore, NetBuffer: PNET_BUFFER): void {
    const fn = 'NdisAdjustNetBufferCurrentMdl';
    checkNb(this, fn, 'NetBuffer', NetBuffer);
    const e = this.wasm.nbAdjust(NetBuffer) >>> 0;
    if (e !== E.OK) throw dsFail(this, fn, e, NetBuffer);
  },

  /**
   * A pointer to the first `BytesNeeded` used bytes: into the data when they are contiguous and
   * aligned ((address & (AlignMultiple - 1)) == AlignOffset), else a copy in `Storage`, else
   * NULL (also NULL when DataLength < BytesNeeded). Never allocates (DESIGN decision 14).
   * @throws NdisBugCheck GDB-1 for AlignMultiple not a power of two in [1, 8192], AlignOffset
   *   >= AlignMultiple, or Storage not holding BytesNeeded bytes of live memory.
   */
  NdisGetDataBuffer(
    this: RuntimeCore, NetBuffer: PNET_BUFFER, BytesNeeded: number, Storage: PVOID | NULL, AlignMultiple: number, AlignOffset: number,
  ): PVOID | NULL {
    const fn = 'NdisGetDataBuffer';
    checkNb(this, fn, 'NetBuffer', NetBuffer);
    u32Arg(fn, 'BytesNeeded', BytesNeeded);
    if (!isU32(Storage)) throw badParam(fn, 'Storage', Storage, 'a PVOID or NULL (0)');
    if (!isU32(AlignMultiple) || AlignMultiple < 1 || AlignMultiple > 8192 || (AlignMultiple & (AlignMultiple - 1)) !== 0) {
      throw ruleViolation(fn, 'AlignMultiple', 'GDB-1', `${String(AlignMultiple)} is not a power of two in [1, 8192]`, Number(AlignMultiple) >>> 0);
    }
    if (!isU32(AlignOffset) || AlignOffset >= AlignMultiple) {
      throw ruleViolation(fn, 'AlignOffset', 'GDB-1', `${String(AlignOffset)} is not below AlignMultiple (${AlignMultiple})`, Number(AlignOffset) >>> 0);
    }
    const r = this.wasm.nbGetDataBuffer(NetBuffer, BytesNeeded, Storage, AlignMultiple, AlignOffset) >>> 0;
    if (r === E_GDB1) {
      throw ruleViolation(fn, 'Storage', 'GDB-1', `${hexAddr(Storage)} does not hold ${BytesNeeded} bytes of live memory`, Storage, BytesNeeded);
    }
    if (r !== 0 && r < E.LIMIT) throw dsFail(this, fn, r, NetBuffer);
    return r as PVOID | NULL;
  },

  /**
   * Copies up to `BytesToCopy` bytes of used data from Source (at SourceOffset) to Destination
   * (at DestinationOffset), as far as both used spaces go; `BytesCopied.value` says how many.
   * @returns NDIS_STATUS_SUCCESS, or NDIS_STATUS_FAILURE when an offset lies beyond its data.
   */
  NdisCopyFromNetBufferToNetBuffer(
    this: RuntimeCore, Destination: PNET_BUFFER, DestinationOffset: number, BytesToCopy: number,
    Source: PNET_BUFFER, SourceOffset: number, BytesCopied: Out<number>,
  ): NDIS_STATUS {
    const fn = 'NdisCopyFromNetBufferToNetBuffer';
    checkNb(this, fn, 'Destination', Destination);
    u32Arg(fn, 'DestinationOffset', DestinationOffset);
    u32Arg(fn, 'BytesToCopy', BytesToCopy);
    checkNb(this, fn, 'Source', Source);
    u32Arg(fn, 'SourceOffset', SourceOffset);
    if (!isOut(BytesCopied)) throw badParam(fn, 'BytesCopied', BytesCopied, 'an out box { value }');
    const e = this.wasm.nbCopy(Destination, DestinationOffset, BytesToCopy, Source, SourceOffset) >>> 0;
    if (e === E_STATUS_FAILURE) {
      BytesCopied.value = 0;
      return NDIS_STATUS_FAILURE;
    }
    if (e !== E.OK) throw dsFail(this, fn, e, Destination, { other: Source });
    BytesCopied.value = this.wasm.dsResult() >>> 0;
    return NDIS_STATUS_SUCCESS;
  },

  /** Number of physical pages the used data spans, MDL by MDL. */
  NdisQueryNetBufferPhysicalCount(this: RuntimeCore, NetBuffer: PNET_BUFFER): number {
    const fn = 'NdisQueryNetBufferPhysicalCount';
    checkNb(this, fn, 'NetBuffer', NetBuffer);
    const e = this.wasm.nbPhysicalCount(NetBuffer) >>> 0;
    if (e !== E.OK) throw dsFail(this, fn, e, NetBuffer);
    return this.wasm.dsResult() >>> 0;
  },
};

export type DataSpaceApi = typeof dataSpaceApi;

function advanceOne(rt: RuntimeCore, fn: string, nb: number, delta: number, free: boolean, handler: NET_BUFFER_FREE_MDL | null | undefined): void {
  const e = rt.wasm.nbAdvance(nb, delta, free ? 1 : 0, handler ? 1 : 0) >>> 0;
  if (e !== E.OK) throw dsFail(rt, fn, e, nb);
  // Handler-allocated MDLs that became unused come back as a Next-linked list.
  let m = rt.wasm.dsResult() >>> 0;
  rt.sync();
  while (m !== 0 && handler) {
    const next = rt.rd32(m + MDL.Next);
    rt.u32[(m + MDL.Next) >>> 2] = 0;
    handler(m as PMDL);
    rt.sync();
    m = next;
  }
}

/** Undoes the retreats of an NBL that failed part way (DESIGN decision 3). */
function rollback(rt: RuntimeCore, done: [number, number[], number, number][], freeHandler: NET_BUFFER_FREE_MDL | null | undefined): void {
  for (const [nb, before, mdl, flags] of done.reverse()) {
    restore(rt, nb, before);
    if (mdl === 0) continue;
    rt.u32[(mdl + MDL.Next) >>> 2] = 0;
    if (flags === MDLR_DEFAULT) {
      rt.wasm.retreatFreeDefault(mdl);
    } else {
      rt.wasm.retreatReleaseHandlerMdl(mdl);
      if (freeHandler) freeHandler(mdl as PMDL);
    }
  }
}
