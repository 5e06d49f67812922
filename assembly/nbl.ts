// ndis-pool: NET_BUFFER_LIST pools, NET_BUFFER_LISTs and their contexts (NDIS-SPEC §2.1, §2.2,
// §2.4, §4.2, §4.3; DESIGN decisions 9-13).
//
// An NBL is one slab object: the NET_BUFFER_LIST, its preallocated context block (pool
// ContextSize), its NET_BUFFER (fAllocateNetBuffer) and that NB's MDL and data (DataSize).
// Two side words per NBL, out of band: [0] the context block the NBL got at allocation (its
// "base"), [1] the base block's Offset at allocation. Context blocks pushed later by
// NdisAllocateNetBufferListContext are tagged memory; the base is never freed by the caller.

import {
  E_OK, E_POOL2, E_POOL3, E_NBL_FREE2, E_RESOURCES,
  E_CTX_RANGE, E_NBL_LOOP, K_NBL_POOL, K_NBL, K_PROTOCOL, K_MEMORY, ROOT_NBL_POOLS, P_KIND, P_TAG, P_USER0,
  P_USER2, NBL_SIZE, NBL_NEXT, NBL_FIRST_NB, NBL_CONTEXT, NBL_NDIS_POOL_HANDLE, NBL_INFO,
  NBL_INFO_PROTOCOL_ID, NBLC_NEXT, NBLC_SIZE, NBLC_OFFSET, NBLC_DATA, NB_SIZE, MDAT_DATA,
} from "./layout";
import {
  poolAlloc, lookup, lookedUpPool, lookedUpAux, freeLookedUp, pU32,
  pSet, gErrPtr, gErrDetail,
} from "./slab";
import {
  argErr, ownerCheck, gOwnerAux, memAlloc, ndisPoolNew, ndisPoolFree, nbInitPreallocated,
  nbChainArgsCheck, nbSetChain,
} from "./netbuf";
import { nblPoolContextSize, nblPoolAllocNb, nblPoolProtocolId, nblNbOffset, freeRetreatMdls } from "./embedded";

/** Result of the last chain call (count of NBLs or NBs). */
export let gResult: u32 = 0;

// ---------------------------------------------------------------------------------------------
// Pools
// ---------------------------------------------------------------------------------------------

/**
 * NdisAllocateNetBufferListPool (header, Flags, ContextSize alignment and DataSize-without-
 * fAllocateNetBuffer are checked by src/). Returns the pool handle, 0 when out of memory, or an
 * error: about NdisHandle (argument 0), or E_POOL2 for a ProtocolId the caller may not use.
 */
export function nblPoolCreate(owner: usize, tag: u32, dataSize: u32, flags: u32, packed: u32): usize {
  let e = ownerCheck(owner, 0, true);
  if (e != E_OK) return e;
  let ownerAux = gOwnerAux;
  let protocolId = packed >>> 24;
  if (protocolId > 0x0F) { gErrDetail = protocolId; return E_POOL2; }
  if (protocolId != 0) {
    // Only protocol drivers tag their NBLs with a protocol ID (NDIS-SPEC §2.1).
    let ownerKind: u32 = 0;
    if (owner != 0 && lookup(owner, 0) == E_OK) ownerKind = pU32(lookedUpPool(), P_KIND);
    if (ownerKind != K_PROTOCOL) { gErrDetail = protocolId; return E_POOL2; }
  }
  let ctx = packed & 0xFFFF;
  let allocNb = (packed & 0x10000) != 0;
  let size: u64 = <u64>NBL_SIZE + (ctx != 0 ? NBLC_DATA + ctx : 0);
  if (allocNb) size += dataSize != 0 ? <u64>MDAT_DATA + dataSize : NB_SIZE;
  // Two side words per NBL: its allocation-time context block and that block's Offset.
  let pool = ndisPoolNew(ROOT_NBL_POOLS, owner, ownerAux, K_NBL, tag, size, 2, dataSize, flags);
  if (pool != 0) pSet(pool, P_USER2, packed);
  return pool;
}

// @ts-ignore: decorator
@inline function nblPoolCheck(h: usize, arg: u32): u32 {
  let e = lookup(h, K_NBL_POOL);
  return e == E_OK ? E_OK : argErr(arg, e);
}

/** NdisFreeNetBufferListPool. E_POOL5 with NBLs outstanding (detail = count). */
export function nblPoolFree(h: usize): u32 {
  return ndisPoolFree(h, K_NBL_POOL);
}

// ---------------------------------------------------------------------------------------------
// NET_BUFFER_LISTs
// ---------------------------------------------------------------------------------------------

/**
 * Allocates and initialises one NBL of pool `h` with the context the caller asked for. When
 * the preallocated block cannot hold `ctxSize`, a block of ctxSize + ctxBackFill bytes is
 * allocated (DESIGN decision 13). Returns the NBL or 0.
 */
function nblNew(h: usize, ctxSize: u32, ctxBackFill: u32): usize {
  let pre = nblPoolContextSize(h);
  let block: usize = 0;
  if (ctxSize > pre) {
    // The block's Size is a USHORT: a larger context cannot be described (NULL, as NDIS fails).
    if (ctxSize + ctxBackFill > 0xFFFF) return 0;
    block = memAlloc(K_MEMORY, pU32(h, P_TAG), NBLC_DATA + ctxSize + ctxBackFill, 1, 0);
    if (block == 0) return 0;
  }
  let nbl = poolAlloc(h);
  if (nbl == 0) {
    if (block != 0) { lookup(block, K_MEMORY); freeLookedUp(); }
    return 0;
  }
  memory.fill(nbl, 0, NBL_SIZE);
  store<u32>(nbl + NBL_NDIS_POOL_HANDLE, <u32>h);
  store<u32>(nbl + NBL_INFO + (NBL_INFO_PROTOCOL_ID << 2), nblPoolProtocolId(h));
  // Context: the preallocated block when it is big enough, else the new block.
  let ctx: usize = 0;
  if (block != 0) {
    ctx = block;
    store<u32>(ctx + NBLC_NEXT, 0);
    store<u16>(ctx + NBLC_SIZE, <u16>(ctxSize + ctxBackFill));
    store<u16>(ctx + NBLC_OFFSET, <u16>ctxBackFill);
  } else if (pre != 0) {
    ctx = nbl + NBL_SIZE;
    store<u32>(ctx + NBLC_NEXT, 0);
    store<u16>(ctx + NBLC_SIZE, <u16>pre);
    store<u16>(ctx + NBLC_OFFSET, <u16>(pre - ctxSize));
  }
  store<u32>(nbl + NBL_CONTEXT, <u32>ctx);
  lookup(nbl, K_NBL);
  store<u32>(lookedUpAux(0), <u32>ctx);
  store<u32>(lookedUpAux(1), ctx != 0 ? <u32>load<u16>(ctx + NBLC_OFFSET) : 0);
  // The preallocated NET_BUFFER (with MDL and data when the pool has DataSize).
  if (nblPoolAllocNb(h)) {
    let nb = nbl + nblNbOffset(h);
    nbInitPreallocated(nb, h, pU32(h, P_USER0));
    store<u32>(nbl + NBL_FIRST_NB, <u32>nb);
  }
  return nbl;
}

/** NdisAllocateNetBufferList. Returns the NBL, 0 (out of memory) or an error about the pool. */
export function nblAllocate(h: usize, ctxSize: u32, ctxBackFill: u32): usize {
  let e = nblPoolCheck(h, 0);
  if (e != E_OK) return e;
  return nblNew(h, ctxSize, ctxBackFill);
}

/**
 * NdisAllocateNetBufferAndNetBufferList: only on pools with fAllocateNetBuffer and DataSize 0
 * (POOL-3); the NB is set over the caller's MDL chain as NdisAllocateNetBuffer does.
 */
export function nblAllocateWithNb(h: usize, ctxSize: u32, ctxBackFill: u32, mdlChain: usize, dataOffset: u32, dataLength: u32): usize {
  let e = nblPoolCheck(h, 0);
  if (e != E_OK) return e;
  if (!nblPoolAllocNb(h) || pU32(h, P_USER0) != 0) return E_POOL3;
  e = nbChainArgsCheck(mdlChain, dataOffset, dataLength, 3);
  if (e != E_OK) return e;
  let nbl = nblNew(h, ctxSize, ctxBackFill);
  if (nbl == 0) return 0;
  nbSetChain(nbl + nblNbOffset(h), mdlChain, dataOffset, dataLength);
  return nbl;
}

/**
 * Checks that `nbl` can be freed: live, and its context is back to what it got at allocation
 * (NBL-FREE-2). Returns E_OK (with the lookup of `nbl` current) or an error.
 */
function nblFreeCheck(nbl: usize): u32 {
  let e = lookup(nbl, K_NBL);
  if (e != E_OK) return e;
  let base = <usize>load<u32>(lookedUpAux(0));
  let ctx = <usize>load<u32>(nbl + NBL_CONTEXT);
  if (ctx != base || (base != 0 && <u32>load<u16>(base + NBLC_OFFSET) != load<u32>(lookedUpAux(1)))) {
    gErrPtr = nbl;
    gErrDetail = <u32>ctx;
    return E_NBL_FREE2;
  }
  return E_OK;
}

/** Frees an NBL that passed nblFreeCheck: its allocated context block, then the object. */
function nblRelease(nbl: usize): void {
  lookup(nbl, K_NBL);
  let pool = lookedUpPool();
  if (nblPoolAllocNb(pool)) {
    freeRetreatMdls(nbl + nblNbOffset(pool)); // DESIGN decision 21, for the preallocated NB
    lookup(nbl, K_NBL);
  }
  let base = <usize>load<u32>(lookedUpAux(0));
  let inObject = base == nbl + NBL_SIZE;
  freeLookedUp();
  if (base != 0 && !inObject && lookup(base, K_MEMORY) == E_OK) freeLookedUp();
}

/** NdisFreeNetBufferList: frees only what came with the NBL (DESIGN decision 10). */
export function nblFree(nbl: usize): u32 {
  let e = nblFreeCheck(nbl);
  if (e != E_OK) return e == E_NBL_FREE2 ? e : argErr(0, e);
  nblRelease(nbl);
  return E_OK;
}

/** NdisGetPoolFromNetBufferList. */
export function nblPool(nbl: usize): usize {
  let e = lookup(nbl, K_NBL);
  if (e != E_OK) return argErr(0, e);
  return lookedUpPool();
}

/** Checks a live NBL (for the accessors). */
export function nblCheck(nbl: usize): u32 {
  return lookup(nbl, K_NBL);
}

// ---------------------------------------------------------------------------------------------
// Chains
// ---------------------------------------------------------------------------------------------

/**
 * Walks a Next-linked NBL chain checking every link: live NBLs, no loop. Returns E_OK with the
 * count in gResult, or an error (gErrPtr = the bad link, gErrDetail = its index).
 */
export function nblChainCheck(head: usize, forFree: bool): u32 {
  let n: u32 = 0;
  let slow = head;
  let p = head;
  while (p != 0) {
    let e = forFree ? nblFreeCheck(p) : lookup(p, K_NBL);
    if (e != E_OK) { gErrPtr = p; gErrDetail = n; return e == E_NBL_FREE2 ? e : argErr(0, e); }
    p = <usize>load<u32>(p + NBL_NEXT);
    n++;
    if ((n & 1) == 0) {
      slow = <usize>load<u32>(slow + NBL_NEXT);
      if (slow == p && p != 0) { gErrPtr = p; gErrDetail = n; return E_NBL_LOOP; }
    }
  }
  gResult = n;
  return E_OK;
}

/** Frees a whole Next-linked chain in one call, all or nothing. gResult = NBLs freed. */
export function nblFreeChain(head: usize): u32 {
  let e = nblChainCheck(head, true);
  if (e != E_OK) return e;
  let p = head;
  while (p != 0) {
    let next = <usize>load<u32>(p + NBL_NEXT);
    nblRelease(p);
    p = next;
  }
  return E_OK;
}

/** Counts the NBLs of a chain (gResult), checking every link. */
export function nblCountChain(head: usize): u32 {
  return nblChainCheck(head, false);
}

/** Counts the NBs of every NBL of a chain (gResult). NB lists are loop-checked. */
export function nbCountChain(head: usize): u32 {
  let e = nblChainCheck(head, false);
  if (e != E_OK) return e;
  let total: u32 = 0;
  let p = head;
  while (p != 0) {
    let slow = <usize>load<u32>(p + NBL_FIRST_NB);
    let nb = slow;
    let k: u32 = 0;
    while (nb != 0) {
      total++;
      nb = <usize>load<u32>(nb); // NB_NEXT
      if ((++k & 1) == 0) {
        slow = <usize>load<u32>(slow);
        if (slow == nb && nb != 0) { gErrPtr = p; return E_NBL_LOOP; }
      }
    }
    p = <usize>load<u32>(p + NBL_NEXT);
  }
  gResult = total;
  return E_OK;
}

// ---------------------------------------------------------------------------------------------
// Context (NdisAllocateNetBufferListContext / NdisFreeNetBufferListContext)
// ---------------------------------------------------------------------------------------------

/**
 * NdisAllocateNetBufferListContext: use unused space of the current block when there is
 * enough, else push a new block of size + backFill bytes under `tag`. Returns E_OK,
 * E_RESOURCES (allocation failed, nothing changed) or an error about the NBL.
 */
export function ctxAllocate(nbl: usize, size: u32, backFill: u32, tag: u32): u32 {
  let e = lookup(nbl, K_NBL);
  if (e != E_OK) return argErr(0, e);
  let ctx = <usize>load<u32>(nbl + NBL_CONTEXT);
  if (ctx != 0) {
    let off = <u32>load<u16>(ctx + NBLC_OFFSET);
    if (off >= size) {
      store<u16>(ctx + NBLC_OFFSET, <u16>(off - size));
      return E_OK;
    }
  }
  if (size + backFill > 0xFFFF) return E_RESOURCES; // Size is a USHORT
  let block = memAlloc(K_MEMORY, tag, NBLC_DATA + size + backFill, 1, 0);
  if (block == 0) return E_RESOURCES;
  store<u32>(block + NBLC_NEXT, <u32>ctx);
  store<u16>(block + NBLC_SIZE, <u16>(size + backFill));
  store<u16>(block + NBLC_OFFSET, <u16>backFill);
  store<u32>(nbl + NBL_CONTEXT, <u32>block);
  return E_OK;
}

/**
 * NdisFreeNetBufferListContext: releases `size` bytes of the last allocated context space;
 * a pushed block that becomes entirely unused is popped and freed. Freeing into the context the
 * NBL got at allocation is NBL-FREE-2; freeing more than is in use is E_CTX_RANGE.
 */
export function ctxFree(nbl: usize, size: u32): u32 {
  let e = lookup(nbl, K_NBL);
  if (e != E_OK) return argErr(0, e);
  let base = <usize>load<u32>(lookedUpAux(0));
  let baseOffset = load<u32>(lookedUpAux(1));
  let ctx = <usize>load<u32>(nbl + NBL_CONTEXT);
  gErrPtr = nbl;
  if (ctx == 0) { gErrDetail = 0; return E_CTX_RANGE; }
  let off = <u32>load<u16>(ctx + NBLC_OFFSET);
  let blockSize = <u32>load<u16>(ctx + NBLC_SIZE);
  if (ctx == base) {
    if (off + size > baseOffset) { gErrDetail = baseOffset - min<u32>(off, baseOffset); return E_NBL_FREE2; }
  } else {
    if (lookup(ctx, K_MEMORY) != E_OK) { gErrDetail = 0; return E_CTX_RANGE; }
    if (off + size > blockSize) { gErrDetail = blockSize - off; return E_CTX_RANGE; }
  }
  off += size;
  store<u16>(ctx + NBLC_OFFSET, <u16>off);
  if (ctx != base && off == blockSize) {
    store<u32>(nbl + NBL_CONTEXT, load<u32>(ctx + NBLC_NEXT));
    lookup(ctx, K_MEMORY);
    freeLookedUp();
  }
  return E_OK;
}

