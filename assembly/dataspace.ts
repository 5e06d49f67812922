// ndis-pool: the NET_BUFFER data space (NDIS-SPEC §5, DESIGN decisions 1-4, 14, 21): retreat,
// advance, NdisGetDataBuffer, NdisCopyFromNetBufferToNetBuffer, NdisQueryNetBufferPhysicalCount.
//
// The logical space of an NB is its MDLs' bytes end to end; [0, DataOffset) is unused (backfill),
// [DataOffset, DataOffset + DataLength) is used. Invariants after every operation here:
//   DataOffset + DataLength <= sum of ByteCount;  CurrentMdl/CurrentMdlOffset locate DataOffset
//   (an MDL boundary is the next MDL at offset 0; past the end, the last MDL at its ByteCount).
// Every walk first checks the chain (live MDLs, no loop), so a corrupted chain is an error,
// never an endless loop or a stray access.

import {
  E_OK, E_MDL_LOOP, E_NEED_ALLOC, E_STATUS_FAILURE, E_ADV1, E_ADV2, E_GDB1, E_BAD_HANDLER_MDL,
  E_NB_RANGE, K_MDL, K_MEMORY, MDLR_DEFAULT, MDLR_HANDLER, TAG_RETREAT,
  NB_MDL_CHAIN, NB_CURRENT_MDL, NB_CURRENT_MDL_OFFSET, NB_DATA_OFFSET, NB_DATA_LENGTH,
  MDL_NEXT, MDL_BYTE_COUNT, MDL_MAPPED_SYSTEM_VA, MDL_START_VA, MDL_BYTE_OFFSET, MDL_FLAGS,
  MDL_MAPPED_TO_SYSTEM_VA, MDL_NETWORK_HEADER, PAGE_MASK, PAGE_SHIFT, ROOT_MDLS,
} from "./layout";
import { lookup, lookedUpAux, freeLookedUp, poolAlloc, root, gErrPtr, gErrDetail } from "./slab";
import { argErr, chainCheck, gChainBytes, nbAdjustCurrent, memAlloc, mdlInit, rangeCheck } from "./netbuf";
import { nbLive } from "./embedded";

/** Result of the last call (bytes copied, handler MDL list…). */
export let gDsResult: u32 = 0;

/** Checks a live NB and its chain; on success gChainBytes holds the chain's total bytes. */
export function nbAndChain(nb: usize): u32 {
  let e = nbLive(nb);
  if (e != E_OK) return argErr(0, e);
  let chain = <usize>load<u32>(nb + NB_MDL_CHAIN);
  if (chain == 0) {
    gChainBytes = 0;
    // No MDL chain: no data either (NB-CONS, a driver may have set the fields badly).
    if (load<u32>(nb + NB_DATA_OFFSET) != 0 || load<u32>(nb + NB_DATA_LENGTH) != 0) {
      gErrPtr = nb;
      gErrDetail = 0;
      return E_NB_RANGE;
    }
    return E_OK;
  }
  e = chainCheck(chain);
  if (e != E_OK) return e == E_MDL_LOOP ? E_MDL_LOOP : argErr(0, e);
  // NB-CONS: the used space must lie inside the chain (a driver may have set fields badly).
  if (<u64>load<u32>(nb + NB_DATA_OFFSET) + load<u32>(nb + NB_DATA_LENGTH) > gChainBytes) {
    gErrPtr = nb;
    gErrDetail = <u32>gChainBytes;
    return E_NB_RANGE;
  }
  return E_OK;
}

/** The address where the MDL's described buffer starts. */
// @ts-ignore: decorator
@inline export function mdlVa(m: usize): usize {
  return (load<u16>(m + MDL_FLAGS) & MDL_MAPPED_TO_SYSTEM_VA) != 0
    ? <usize>load<u32>(m + MDL_MAPPED_SYSTEM_VA)
    : <usize>load<u32>(m + MDL_START_VA) + load<u32>(m + MDL_BYTE_OFFSET);
}

// ---------------------------------------------------------------------------------------------
// Retreat
// ---------------------------------------------------------------------------------------------

/**
 * The part of NdisRetreatNetBufferDataStart that needs no allocation: when delta <= DataOffset
 * (DESIGN decision 1) DataOffset moves back and E_OK is returned. E_NEED_ALLOC when an MDL
 * must be prepended; E_STATUS_FAILURE when DataLength + delta overflows.
 */
export function nbRetreatFast(nb: usize, delta: u32): u32 {
  let e = nbAndChain(nb);
  if (e != E_OK) return e;
  let len = load<u32>(nb + NB_DATA_LENGTH);
  if (<u64>len + delta > 0xFFFFFFFF) return E_STATUS_FAILURE;
  let off = load<u32>(nb + NB_DATA_OFFSET);
  if (delta > off) return E_NEED_ALLOC;
  store<u32>(nb + NB_DATA_OFFSET, off - delta);
  store<u32>(nb + NB_DATA_LENGTH, len + delta);
  nbAdjustCurrent(nb);
  return E_OK;
}

/** The default allocator: an MDL over a new `size`-byte buffer, both owned by the retreat. */
export function retreatAllocDefault(size: u32): usize {
  let buf = memAlloc(K_MEMORY, TAG_RETREAT, size, 1, 0);
  if (buf == 0) return 0;
  let mdl = poolAlloc(root(ROOT_MDLS));
  if (mdl == 0) {
    lookup(buf, K_MEMORY);
    freeLookedUp();
    return 0;
  }
  mdlInit(mdl, buf, size, MDL_NETWORK_HEADER);
  lookup(mdl, K_MDL);
  store<u32>(lookedUpAux(0), 0);
  store<u32>(lookedUpAux(1), MDLR_DEFAULT);
  store<u32>(lookedUpAux(2), <u32>buf);
  store<u32>(lookedUpAux(3), 0);
  return mdl;
}

/** Frees a default-allocated retreat MDL and its buffer (a rolled-back retreat). */
export function retreatFreeDefault(mdl: usize): u32 {
  if (lookup(mdl, K_MDL) != E_OK) return argErr(0, 1);
  if ((load<u32>(lookedUpAux(1)) & MDLR_DEFAULT) == 0) return E_ADV2;
  let buf = <usize>load<u32>(lookedUpAux(2));
  store<u32>(lookedUpAux(1), 0);
  freeLookedUp();
  if (lookup(buf, K_MEMORY) == E_OK) freeLookedUp();
  return E_OK;
}

/** Forgets that a handler's MDL belongs to a retreat (it goes back to the handler). */
export function retreatReleaseHandlerMdl(mdl: usize): void {
  if (lookup(mdl, K_MDL) == E_OK) store<u32>(lookedUpAux(1), 0);
}

/**
 * Prepends `mdl` (ByteCount S >= delta) to the chain: DataOffset' = S + DataOffset - delta,
 * DataLength' = DataLength + delta (DESIGN decision 2). `flags` is MDLR_DEFAULT or MDLR_HANDLER.
 */
export function nbPrepend(nb: usize, mdl: usize, delta: u32, flags: u32): u32 {
  let e = nbAndChain(nb);
  if (e != E_OK) return e;
  e = lookup(mdl, K_MDL);
  if (e != E_OK) return argErr(1, e);
  let aux1 = lookedUpAux(1);
  let owned = load<u32>(aux1);
  if (flags == MDLR_HANDLER) {
    if (owned != 0 || load<u32>(mdl + MDL_NEXT) != 0) { gErrPtr = mdl; return E_BAD_HANDLER_MDL; }
    // Not already a link of this NB's chain (its last MDL has Next NULL too).
    for (let m = <usize>load<u32>(nb + NB_MDL_CHAIN); m != 0; m = <usize>load<u32>(m + MDL_NEXT)) {
      if (m == mdl) { gErrPtr = mdl; return E_BAD_HANDLER_MDL; }
    }
  }
  let s = load<u32>(mdl + MDL_BYTE_COUNT);
  let off = load<u32>(nb + NB_DATA_OFFSET);
  if (<u64>s + off < <u64>delta) { gErrPtr = mdl; gErrDetail = s; return E_BAD_HANDLER_MDL; }
  store<u32>(aux1, flags);
  store<u32>(mdl + MDL_NEXT, load<u32>(nb + NB_MDL_CHAIN));
  store<u32>(nb + NB_MDL_CHAIN, <u32>mdl);
  store<u32>(nb + NB_DATA_OFFSET, <u32>(<u64>s + off - delta));
  store<u32>(nb + NB_DATA_LENGTH, load<u32>(nb + NB_DATA_LENGTH) + delta);
  nbAdjustCurrent(nb);
  return E_OK;
}

// ---------------------------------------------------------------------------------------------
// Advance
// ---------------------------------------------------------------------------------------------

/**
 * NdisAdvanceNetBufferDataStart. ADV-1 when delta > DataLength. With `freeMdl`, retreat-owned
 * MDLs at the head that are now entirely unused are unlinked: default ones are freed here;
 * handler ones are returned as a Next-linked list in gDsResult for src/ to pass to the free
 * handler (ADV-2, checked before anything changes, when there is no handler for them).
 */
export function nbAdvance(nb: usize, delta: u32, freeMdl: bool, haveHandler: bool): u32 {
  let e = nbAdvanceCheck(nb, delta, freeMdl, haveHandler);
  if (e != E_OK) return e;
  let len = load<u32>(nb + NB_DATA_LENGTH);
  let off = load<u32>(nb + NB_DATA_OFFSET) + delta;
  gDsResult = 0;
  store<u32>(nb + NB_DATA_OFFSET, off);
  store<u32>(nb + NB_DATA_LENGTH, len - delta);
  if (freeMdl) {
    let handlerHead: usize = 0;
    let handlerTail: usize = 0;
    let m = <usize>load<u32>(nb + NB_MDL_CHAIN);
    while (m != 0 && lookup(m, K_MDL) == E_OK) {
      let fl = load<u32>(lookedUpAux(1));
      let bc = load<u32>(m + MDL_BYTE_COUNT);
      if (fl == 0 || off < bc || load<u32>(m + MDL_NEXT) == 0) break;
      let next = <usize>load<u32>(m + MDL_NEXT);
      off -= bc;
      store<u32>(nb + NB_MDL_CHAIN, <u32>next);
      if (fl & MDLR_DEFAULT) {
        retreatFreeDefault(m);
      } else {
        store<u32>(lookedUpAux(1), 0);
        store<u32>(m + MDL_NEXT, 0);
        if (handlerTail != 0) store<u32>(handlerTail + MDL_NEXT, <u32>m); else handlerHead = m;
        handlerTail = m;
      }
      m = next;
    }
    store<u32>(nb + NB_DATA_OFFSET, off);
    gDsResult = <u32>handlerHead;
  }
  nbAdjustCurrent(nb);
  return E_OK;
}

/**
 * The checks of nbAdvance with no change: the NB and its chain, ADV-1, and (with `freeMdl`)
 * ADV-2 for the MDLs that would be freed. The NBL form runs it on every NB first.
 */
export function nbAdvanceCheck(nb: usize, delta: u32, freeMdl: bool, haveHandler: bool): u32 {
  let e = nbAndChain(nb);
  if (e != E_OK) return e;
  let len = load<u32>(nb + NB_DATA_LENGTH);
  if (delta > len) { gErrPtr = nb; gErrDetail = len; return E_ADV1; }
  let off = load<u32>(nb + NB_DATA_OFFSET) + delta;
  if (freeMdl) {
    // Dry run: which head MDLs would go, and can each be freed by the right allocator?
    let m = <usize>load<u32>(nb + NB_MDL_CHAIN);
    let rem = off;
    while (m != 0 && lookup(m, K_MDL) == E_OK) {
      let fl = load<u32>(lookedUpAux(1));
      let bc = load<u32>(m + MDL_BYTE_COUNT);
      if (fl == 0 || rem < bc || load<u32>(m + MDL_NEXT) == 0) break;
      if ((fl & MDLR_HANDLER) != 0 && !haveHandler) { gErrPtr = m; return E_ADV2; }
      rem -= bc;
      m = <usize>load<u32>(m + MDL_NEXT);
    }
  }
  return E_OK;
}

/** NdisAdjustNetBufferCurrentMdl, with the chain checked first. */
export function nbAdjust(nb: usize): u32 {
  let e = nbAndChain(nb);
  if (e != E_OK) return e;
  nbAdjustCurrent(nb);
  return E_OK;
}

// ---------------------------------------------------------------------------------------------
// Reading and copying the used data
// ---------------------------------------------------------------------------------------------

/**
 * NdisGetDataBuffer (DESIGN decision 14: never allocates). Returns a pointer into the data
 * when the first `n` used bytes are in one MDL at an address with (addr & (alignMul - 1)) ==
 * alignOff; else copies them into `storage` and returns it; else 0. Errors: GDB-1 when storage
 * cannot hold `n` bytes of live memory.
 */
export function nbGetDataBuffer(nb: usize, n: u32, storage: usize, alignMul: u32, alignOff: u32): usize {
  let e = nbAndChain(nb);
  if (e != E_OK) return e;
  if (storage != 0 && rangeCheck(storage, n) != E_OK) { gErrPtr = storage; return E_GDB1; }
  if (n > load<u32>(nb + NB_DATA_LENGTH)) return 0;
  let m = <usize>load<u32>(nb + NB_CURRENT_MDL);
  let o = load<u32>(nb + NB_CURRENT_MDL_OFFSET);
  if (m == 0) return n == 0 && storage != 0 ? storage : 0;
  // Skip exhausted MDLs (the pair may sit at an MDL's end).
  while (o >= load<u32>(m + MDL_BYTE_COUNT) && load<u32>(m + MDL_NEXT) != 0) {
    o -= load<u32>(m + MDL_BYTE_COUNT);
    m = <usize>load<u32>(m + MDL_NEXT);
  }
  let addr = mdlVa(m) + o;
  if (load<u32>(m + MDL_BYTE_COUNT) - o >= n && (<u32>addr & (alignMul - 1)) == alignOff) return addr;
  if (storage == 0) return 0;
  let copied = gather(m, o, storage, n);
  return copied == n ? storage : 0;
}

/** Copies `n` bytes of logical data starting at MDL `m` offset `o` to `dst`. Returns bytes copied. */
function gather(m: usize, o: u32, dst: usize, n: u32): u32 {
  let done: u32 = 0;
  while (m != 0 && done < n) {
    let bc = load<u32>(m + MDL_BYTE_COUNT);
    if (o < bc) {
      let k = min<u32>(bc - o, n - done);
      memory.copy(dst + done, mdlVa(m) + o, k);
      done += k;
      o = 0;
    } else {
      o -= bc;
    }
    m = <usize>load<u32>(m + MDL_NEXT);
  }
  return done;
}

/** Finds the MDL and offset of used byte `pos` of `nb` (sets gM / gO); false past the end. */
let gM: usize = 0;
let gO: u32 = 0;
function locate(nb: usize, pos: u32): bool {
  let m = <usize>load<u32>(nb + NB_MDL_CHAIN);
  let o = load<u32>(nb + NB_DATA_OFFSET) + pos;
  while (m != 0) {
    let bc = load<u32>(m + MDL_BYTE_COUNT);
    if (o < bc) { gM = m; gO = o; return true; }
    o -= bc;
    m = <usize>load<u32>(m + MDL_NEXT);
  }
  return false;
}

/**
 * NdisCopyFromNetBufferToNetBuffer: copies min(bytes, what both used spaces hold past their
 * offsets) bytes; gDsResult = bytes copied. E_STATUS_FAILURE when an offset is beyond its data.
 */
export function nbCopy(dst: usize, dstOff: u32, bytes: u32, src: usize, srcOff: u32): u32 {
  let e = nbAndChain(dst);
  if (e != E_OK) return e;
  e = nbAndChain(src);
  if (e != E_OK) return e >= 40 ? e : argErr(3, e & 7); // rule errors as they are; else about Source
  gDsResult = 0;
  let dLen = load<u32>(dst + NB_DATA_LENGTH);
  let sLen = load<u32>(src + NB_DATA_LENGTH);
  if (dstOff > dLen || srcOff > sLen) return E_STATUS_FAILURE;
  let n = min<u32>(bytes, min<u32>(dLen - dstOff, sLen - srcOff));
  if (n == 0) return bytes == 0 ? E_OK : E_STATUS_FAILURE;
  if (!locate(dst, dstOff)) return E_STATUS_FAILURE;
  let dm = gM, dO = gO;
  if (!locate(src, srcOff)) return E_STATUS_FAILURE;
  let sm = gM, sO = gO;
  let done: u32 = 0;
  while (done < n && dm != 0 && sm != 0) {
    let dAvail = load<u32>(dm + MDL_BYTE_COUNT) - dO;
    let sAvail = load<u32>(sm + MDL_BYTE_COUNT) - sO;
    let k = min<u32>(n - done, min<u32>(dAvail, sAvail));
    memory.copy(mdlVa(dm) + dO, mdlVa(sm) + sO, k);
    done += k;
    dO += k;
    sO += k;
    if (dO == load<u32>(dm + MDL_BYTE_COUNT)) { dm = <usize>load<u32>(dm + MDL_NEXT); dO = 0; }
    if (sO == load<u32>(sm + MDL_BYTE_COUNT)) { sm = <usize>load<u32>(sm + MDL_NEXT); sO = 0; }
  }
  gDsResult = done;
  return E_OK;
}

/**
 * NdisQueryNetBufferPhysicalCount: pages spanned by the used data, MDL by MDL (an MDL whose used
 * part is empty counts nothing; a whole MDL with ByteCount 0 is not part of the data).
 */
export function nbPhysicalCount(nb: usize): u32 {
  let e = nbAndChain(nb);
  if (e != E_OK) return e;
  gDsResult = 0;
  let left = load<u32>(nb + NB_DATA_LENGTH);
  if (left == 0 || !locate(nb, 0)) return E_OK;
  let m = gM, o = gO;
  let pages: u32 = 0;
  while (m != 0 && left != 0) {
    let bc = load<u32>(m + MDL_BYTE_COUNT);
    let k = min<u32>(bc - o, left);
    if (k != 0) {
      let va = <u32>(mdlVa(m) + o);
      pages += ((va & PAGE_MASK) + k + PAGE_MASK) >>> PAGE_SHIFT;
      left -= k;
    }
    o = 0;
    m = <usize>load<u32>(m + MDL_NEXT);
  }
  gDsResult = pages;
  return E_OK;
}

