// ndis-pool: objects that live inside other objects. A NET_BUFFER_LIST slab object carries its
// preallocated context block, NET_BUFFER, MDL and data; an MdlAndData NET_BUFFER carries its MDL.
// These helpers recognise such interior objects in O(1), for validation.

import {
  E_OK, E_NOT_OURS, E_WRONG_KIND, K_NBL, K_NB, K_MDL, K_MEMORY, SL_POOL, P_KIND, P_USER0, P_USER2,
  NBL_SIZE, NBLC_DATA, MDAT_MDL, NB_MDL_CHAIN, MDL_NEXT, MDLR_DEFAULT, K_PACKET, PK_HEAD,
  MDL_AUX_PACKET,
} from "./layout";
import { slabOf } from "./pages";
import { lookup, lookedUpAux, freeLookedUp, pU32, sU32, gErrPtr } from "./slab";

// NBL pool geometry, packed in P_USER2: ContextSize (bits 0-15), fAllocateNetBuffer (bit 16),
// ProtocolId (bits 24-31). P_USER0 is DataSize, P_USER1 the parameter Flags.

// @ts-ignore: decorator
@inline export function nblPoolContextSize(pool: usize): u32 { return pU32(pool, P_USER2) & 0xFFFF; }
// @ts-ignore: decorator
@inline export function nblPoolAllocNb(pool: usize): bool { return (pU32(pool, P_USER2) & 0x10000) != 0; }
// @ts-ignore: decorator
@inline export function nblPoolProtocolId(pool: usize): u32 { return pU32(pool, P_USER2) >>> 24; }
/** Offset of the preallocated NET_BUFFER inside an NBL object of `pool`. */
// @ts-ignore: decorator
@inline export function nblNbOffset(pool: usize): u32 {
  let c = nblPoolContextSize(pool);
  return NBL_SIZE + (c != 0 ? NBLC_DATA + c : 0);
}

/** NBL found by the last successful `preallocNb` / `embeddedMdl`. */
export let gNbl: usize = 0;

/**
 * Is `nb` the NET_BUFFER preallocated inside a live NBL? E_OK (gNbl = the NBL), E_WRONG_KIND
 * when the address is not in an NBL pool with preallocated NBs, or the NBL lookup's error
 * (E_MISALIGNED: not at the NB's position; E_NOT_ALLOCATED: its NBL was freed).
 */
export function preallocNb(nb: usize): u32 {
  let slab = slabOf(nb);
  if (slab == 0) { gErrPtr = nb; return E_NOT_OURS; }
  let pool = <usize>sU32(slab, SL_POOL);
  if (pU32(pool, P_KIND) != K_NBL || !nblPoolAllocNb(pool)) return E_WRONG_KIND;
  let off = nblNbOffset(pool);
  if (nb < <usize>off) return E_WRONG_KIND;
  let e = lookup(nb - off, K_NBL);
  if (e != E_OK) { gErrPtr = nb; return e; }
  gNbl = nb - off;
  return E_OK;
}

/** A live NET_BUFFER: a pool NB (K_NB object) or an NBL's preallocated NB. */
export function nbLive(nb: usize): u32 {
  let e = lookup(nb, K_NB);
  if (e != E_WRONG_KIND) return e;
  let e2 = preallocNb(nb);
  return e2 == E_WRONG_KIND ? E_WRONG_KIND : e2;
}

/**
 * Is `mdl` the MDL inside a live MdlAndData NET_BUFFER or inside a live NBL object with data?
 * E_OK, E_WRONG_KIND (no such interior MDL there) or E_NOT_ALLOCATED (its owner was freed).
 */
export function embeddedMdl(mdl: usize): u32 {
  let slab = slabOf(mdl);
  if (slab == 0) return E_NOT_OURS;
  let pool = <usize>sU32(slab, SL_POOL);
  let kind = pU32(pool, P_KIND);
  if (pU32(pool, P_USER0) == 0) return E_WRONG_KIND; // no DataSize: no interior MDL
  let off: u32;
  if (kind == K_NB) off = MDAT_MDL;
  else if (kind == K_NBL && nblPoolAllocNb(pool)) off = nblNbOffset(pool) + MDAT_MDL;
  else return E_WRONG_KIND;
  if (mdl < <usize>off) return E_WRONG_KIND;
  let e = lookup(mdl - off, kind);
  if (e == E_OK) { gNbl = mdl - off; return E_OK; }
  return e == 4 /* E_NOT_ALLOCATED */ ? e : E_WRONG_KIND;
}

/**
 * Releases the retreat-owned MDLs at the head of `nb`'s chain, as NdisFreeNetBuffer /
 * NdisFreeNetBufferList do (DESIGN decision 21): the default allocator's MDLs and buffers are
 * freed; a handler's MDLs go back to the handler's owner (unlinked, no longer retreat-owned:
 * they belong to the handler's allocator). Stops at the first MDL a caller supplied.
 */
export function freeRetreatMdls(nb: usize): void {
  let m = <usize>load<u32>(nb + NB_MDL_CHAIN);
  while (m != 0 && lookup(m, K_MDL) == E_OK) {
    let flags = load<u32>(lookedUpAux(1));
    if (flags == 0) break;
    let next = <usize>load<u32>(m + MDL_NEXT);
    store<u32>(lookedUpAux(1), 0);
    if (flags & MDLR_DEFAULT) {
      let buf = <usize>load<u32>(lookedUpAux(2));
      freeLookedUp();
      if (lookup(buf, K_MEMORY) == E_OK) freeLookedUp();
    } else {
      store<u32>(m + MDL_NEXT, 0);
    }
    m = next;
  }
  store<u32>(nb + NB_MDL_CHAIN, <u32>m);
}

/** The live packet `b` is chained to (walking that packet's chain), or 0. */
export function chainedTo(b: usize): usize {
  if (lookup(b, K_MDL) != E_OK) return 0;
  let p = <usize>load<u32>(lookedUpAux(MDL_AUX_PACKET));
  if (p == 0 || lookup(p, K_PACKET) != E_OK) return 0;
  let m = <usize>load<u32>(p + PK_HEAD);
  let steps: u32 = 0;
  while (m != 0 && steps++ < 0x100000) {
    if (m == b) return p;
    m = <usize>load<u32>(m + MDL_NEXT);
  }
  return 0;
}

