// ndis-pool: NDIS object semantics over the slab core: handles (protocol records, generic
// objects), tagged memory, MDLs, NET_BUFFER pools and NET_BUFFERs.
//
// Every function returns a pointer (>= E_LIMIT), 0 for NULL (exhaustion), or an error code
// below E_LIMIT that src/ turns into an NdisBugCheck. On an error nothing has changed.

import { genRelease } from "./gentable";
import { quarantineReset, quarantinePool } from "./slab";
import {
  E_OK, E_NOT_OURS, E_WRONG_KIND, E_NOT_ALLOCATED, ARG_SHIFT, SL_POOL, P_REQ_SIZE,
  SL_STATE, ST_FREEING, ST_ALLOCATED, E_DUPLICATE,
  E_POOL4, E_NB_ARGS, E_NB_RANGE, E_POOL5, E_POOL6, E_WRONG_TAG, E_MDL_LOOP, E_BAD_RANGE,
  K_NB_POOL, K_SLAB_POOL, K_MEM_POOL, K_TAG_SET, K_PROTOCOL, K_NB, K_SLAB_OBJ, K_MEMORY, K_GENERIC, K_MDL,
  K_NBL_POOL, K_NBL, ROOT_NBL_POOLS, E_NBL_FREE1, K_PACKET_POOL, K_BUFFER_POOL, ROOT_PACKET_POOLS,
  ROOT_BUFFER_POOLS, ROOT_LCACHES, K_WCACHE, E_BUF_CHAINED, MDL_AUX_WORDS, MDLR_DEFAULT, E_ADV2,
  ROOT_NB_POOLS, ROOT_SLAB_POOLS, ROOT_MEM_POOLS, ROOT_TAG_SETS, ROOT_PROTOCOLS, ROOT_MDLS, ROOT_COUNT,
  TAG_MDL, TAG_NDIS, PF_ROOT, PF_LARGE, POOL_DESC_SIZE,
  P_KIND, P_TAG, P_OWNER, P_OUTSTANDING, P_USER0, P_USER1, P_MAX_OUT,
  NB_SIZE, NB_CURRENT_MDL, NB_CURRENT_MDL_OFFSET, NB_DATA_LENGTH, NB_MDL_CHAIN,
  NB_DATA_OFFSET, NB_NDIS_POOL_HANDLE,
  MDL_NEXT, MDL_SIZE, MDL_SIZE_FIELD, MDL_FLAGS, MDL_MAPPED_SYSTEM_VA, MDL_START_VA, MDL_BYTE_COUNT,
  MDL_BYTE_OFFSET,
  MDL_MAPPED_TO_SYSTEM_VA, MDL_SOURCE_IS_NONPAGED_POOL, MDL_ALLOCATED_FIXED_SIZE,
  PAGE_MASK, MDAT_MDL, MDAT_DATA,
  GOBJ_SIZE, GOBJ_HEADER, GOBJ_DRIVER_OBJECT,
  PROT_SIZE, PROT_CONTEXT, PROT_MAJOR_NDIS, PROT_FLAGS, PROT_CHARS_ID,
  TS_KIND, TS_TAG, TS_NEXT, TS_LARGE, TS_CLASS, TAG_SET_SIZE, LARGEST_CLASS,
  TS_R_ALLOCS, TS_R_FREES, TS_R_FAILURES, TS_R_PEAK, TS_R_POOLS, P_ALLOCS, P_FREES, P_FAILURES, P_PEAK,
} from "./layout";
import { cachesRetire, cachesReset, LCACHE_BYTES } from "./wcache";
import { rootU32, rootSetU32, R_TAG_SETS, R_SERIAL, R_ROOTS, R_FAULT, unitsResetAll, slabOf } from "./pages";
import { preallocNb, nbLive, embeddedMdl, freeRetreatMdls, chainedTo } from "./embedded";
import {
  poolInit, poolAlloc, poolAllocSlow, poolRelease, lookup, lookedUpPool, lookedUpAux,
  freeLookedUp, containing, root, pU32, pSet, sU32, gErrPtr, gErrDetail, poolAllocMany, setState, indexIn, gSlab, gIdx, poolReleaseChecked,
} from "./slab";

/** NDIS_OBJECT_TYPE_DEFAULT: the Type written into NDIS_GENERIC_OBJECT headers (see README). */
// @ts-ignore: decorator
@inline const GENERIC_OBJECT_HEADER_TYPE: u8 = 0x80;

// @ts-ignore: decorator
@inline export function argErr(arg: u32, e: u32): u32 { return (arg << ARG_SHIFT) | e; }

// ---------------------------------------------------------------------------------------------
// Runtime set-up
// ---------------------------------------------------------------------------------------------

/** (Re)initialises the root pools. */
export function rootsInit(): void {
  rootSetU32(R_TAG_SETS, 0);
  rootSetU32(R_SERIAL, 0);
  poolInit(root(ROOT_NB_POOLS), K_NB_POOL, TAG_NDIS, POOL_DESC_SIZE, 0, PF_ROOT, 0);
  poolInit(root(ROOT_SLAB_POOLS), K_SLAB_POOL, TAG_NDIS, POOL_DESC_SIZE, 0, PF_ROOT, 0);
  poolInit(root(ROOT_MEM_POOLS), K_MEM_POOL, TAG_NDIS, POOL_DESC_SIZE, 0, PF_ROOT, 0);
  poolInit(root(ROOT_TAG_SETS), K_TAG_SET, TAG_NDIS, TAG_SET_SIZE, 0, PF_ROOT, 0);
  // Protocol records carry one side word: the number of pools they own (POOL-6).
  poolInit(root(ROOT_PROTOCOLS), K_PROTOCOL, TAG_NDIS, PROT_SIZE, 1, PF_ROOT, 0);
  // MDLs carry one side word: the handle that allocated them.
  poolInit(root(ROOT_MDLS), K_MDL, TAG_MDL, MDL_SIZE, MDL_AUX_WORDS, PF_ROOT, 0);
  poolInit(root(ROOT_NBL_POOLS), K_NBL_POOL, TAG_NDIS, POOL_DESC_SIZE, 0, PF_ROOT, 0);
  poolInit(root(ROOT_PACKET_POOLS), K_PACKET_POOL, TAG_NDIS, POOL_DESC_SIZE, 0, PF_ROOT, 0);
  poolInit(root(ROOT_BUFFER_POOLS), K_BUFFER_POOL, TAG_NDIS, 16, 0, PF_ROOT, 0);
  // The caches of single-threaded runtimes' SlabPools (wcache.ts, worker 0).
  poolInit(root(ROOT_LCACHES), K_WCACHE, TAG_NDIS, LCACHE_BYTES, 0, PF_ROOT, 0);
}

/** Frees everything: every slab returns to the page source, every handle becomes invalid. */
export function resetAll(): void {
  cachesReset();
  unitsResetAll();
  quarantineReset();
  rootsInit();
}

/** Root block bytes needed by this module. */
export function rootBytes(): u32 {
  return R_ROOTS + ROOT_COUNT * POOL_DESC_SIZE;
}

// ---------------------------------------------------------------------------------------------
// Handles that may own pools: protocol records and generic objects
// ---------------------------------------------------------------------------------------------

/**
 * Checks `h` as the NdisHandle argument number `arg`: 0 (when `optional`) or a live protocol
 * or generic-object handle. Returns E_OK and the address of its owned-pools counter in gOwnerAux.
 */
export let gOwnerAux: usize = 0;
export function ownerCheck(h: usize, arg: u32, optional: bool): u32 {
  gOwnerAux = 0;
  if (h == 0) return optional ? E_OK : argErr(arg, E_NOT_OURS);
  let e = lookup(h, 0);
  if (e != E_OK) return argErr(arg, e);
  let kind = pU32(lookedUpPool(), P_KIND);
  if (kind != K_PROTOCOL && kind != K_GENERIC) { gErrDetail = kind; return argErr(arg, E_WRONG_KIND); }
  gOwnerAux = lookedUpAux(0);
  return E_OK;
}

// @ts-ignore: decorator
@inline export function ownerAdd(h: usize, delta: i32): void {
  if (h == 0) return;
  if (lookup(h, 0) == E_OK) {
    let a = lookedUpAux(0);
    store<u32>(a, <u32>(<i32>load<u32>(a) + delta));
  }
}

/** Number of pools owned by handle `h` (stats). */
export function ownedPools(h: usize): u32 {
  if (ownerCheck(h, 0, false) != E_OK) return 0;
  return load<u32>(gOwnerAux);
}

/** Allocates a protocol driver record. Returns the handle or 0. */
export function protocolRegister(context: u32, versions: u32, flags: u32, charsId: u32): usize {
  let h = poolAlloc(root(ROOT_PROTOCOLS));
  if (h == 0) return 0;
  store<u32>(h + PROT_CONTEXT, context);
  store<u32>(h + PROT_MAJOR_NDIS, versions);
  store<u32>(h + PROT_FLAGS, flags);
  store<u32>(h + PROT_CHARS_ID, charsId);
  store<u32>(lookupAuxOf(h, 0), 0);
  return h;
}

/** Address of side word `w` of the live object `h`. */
function lookupAuxOf(h: usize, w: u32): usize {
  lookup(h, 0);
  return lookedUpAux(w);
}

/** Frees a protocol record. E_POOL6 while it owns pools. */
export function protocolDeregister(h: usize): u32 {
  let e = lookup(h, K_PROTOCOL);
  if (e != E_OK) return argErr(0, e);
  let owned = load<u32>(lookedUpAux(0));
  if (owned != 0) { gErrDetail = owned; return E_POOL6; }
  freeLookedUp();
  return E_OK;
}

/** Characteristics id stored in a live protocol record (or 0). */
export function protocolCharsId(h: usize): u32 {
  if (lookup(h, K_PROTOCOL) != E_OK) return 0;
  return load<u32>(h + PROT_CHARS_ID);
}

// ---------------------------------------------------------------------------------------------
// Tagged variable-size memory: one set of size-class pools per (kind, tag)
// ---------------------------------------------------------------------------------------------

/** Slot size of size class `c`: 16..64 by 8, then 4 classes per power of two up to 32 KiB. */
export function classSize(c: u32): u32 {
  if (c < 7) return 16 + 8 * c;
  let k = c - 7;
  return ((64 * (5 + (k & 3))) >> 2) << (k >> 2);
}

/** Size class for `len` bytes (len <= LARGEST_CLASS). */
export function sizeClass(len: u32): u32 {
  if (len <= 16) return 0;
  if (len <= 64) return (len - 16 + 7) >> 3;
  let lg = 31 - clz(len - 1); // 6.. for len in (64, 32768]
  let e = <u32>lg - 6;
  let step = <u32>16 << e;
  let m = (len - (<u32>64 << e) + step - 1) / step - 1;
  return 7 + 4 * e + m;
}

function tagSetFind(kind: u32, tag: u32, create: bool): usize {
  let prev: usize = 0;
  let s = <usize>rootU32(R_TAG_SETS);
  while (s != 0) {
    if (load<u32>(s + TS_KIND) == kind && load<u32>(s + TS_TAG) == tag) {
      if (prev != 0) { // move to front: the sets in use stay cheap to find
        store<u32>(prev + TS_NEXT, load<u32>(s + TS_NEXT));
        store<u32>(s + TS_NEXT, rootU32(R_TAG_SETS));
        rootSetU32(R_TAG_SETS, <u32>s);
      }
      return s;
    }
    prev = s;
    s = <usize>load<u32>(s + TS_NEXT);
  }
  if (!create) return 0;
  s = poolAlloc(root(ROOT_TAG_SETS));
  if (s == 0) return 0;
  memory.fill(s, 0, TAG_SET_SIZE);
  store<u32>(s + TS_KIND, kind);
  store<u32>(s + TS_TAG, tag);
  store<u32>(s + TS_NEXT, rootU32(R_TAG_SETS));
  rootSetU32(R_TAG_SETS, <u32>s);
  return s;
}

/**
 * Adds a pool's counters to its (kind, tag) set before the pool is destroyed, so per-tag
 * statistics outlive the pool (as poolmon's do). Statistics only: dropped if out of memory.
 */
/**
 * Makes sure the tag set that will keep `pool`'s counters after it is freed exists, so per-tag
 * counters stay exact when memory is exhausted at the time the pool is freed. Called when a pool
 * is created; false (no memory even then) is tolerated: the pool works, and only its retired
 * counters could be lost later.
 */
export function tagSetReserve(pool: usize): bool {
  return tagSetFind(pU32(pool, P_KIND), pU32(pool, P_TAG), true) != 0;
}

export function retire(pool: usize): void {
  // Bookkeeping, not an allocation the caller asked for: injected faults do not apply here.
  let fault = rootU32(R_FAULT);
  rootSetU32(R_FAULT, 0);
  let set = tagSetFind(pU32(pool, P_KIND), pU32(pool, P_TAG), true);
  rootSetU32(R_FAULT, fault);
  if (set == 0) return;
  store<u64>(set + TS_R_ALLOCS, load<u64>(set + TS_R_ALLOCS) + load<u64>(pool + P_ALLOCS));
  // Objects dropped by a forced destroy count as freed: they are gone with the pool.
  store<u64>(set + TS_R_FREES, load<u64>(set + TS_R_FREES) + load<u64>(pool + P_FREES) + pU32(pool, P_OUTSTANDING));
  store<u64>(set + TS_R_FAILURES, load<u64>(set + TS_R_FAILURES) + load<u64>(pool + P_FAILURES));
  store<u32>(set + TS_R_PEAK, max<u32>(load<u32>(set + TS_R_PEAK), pU32(pool, P_PEAK)));
  store<u32>(set + TS_R_POOLS, load<u32>(set + TS_R_POOLS) + 1);
}

/**
 * Allocates `len` bytes of `kind` memory under `tag`. Returns the address or 0. The objects
 * carry `auxWords` side words; word `lenWord` records `len` (the requested length, which the
 * MDL range check uses instead of the rounded slot size).
 */
export function memAlloc(kind: u32, tag: u32, len: u32, auxWords: u32, lenWord: u32): usize {
  if (len > 0xFFF00000) return 0; // more than a 32-bit address space can hold
  let set = tagSetFind(kind, tag, true);
  if (set == 0) return 0;
  let large = len > LARGEST_CLASS;
  let slot: usize = large ? set + TS_LARGE : set + TS_CLASS + (<usize>sizeClass(len) << 2);
  let pool = <usize>load<u32>(slot);
  if (pool == 0) {
    pool = poolAlloc(root(ROOT_MEM_POOLS));
    if (pool == 0) return 0;
    let size = large ? 0 : classSize(sizeClass(len));
    poolInit(pool, kind, tag, size, auxWords, large ? PF_LARGE : 0, 0);
    store<u32>(slot, <u32>pool);
  }
  let p = large ? poolAllocSlow(pool, len) : poolAlloc(pool);
  if (p != 0) store<u32>(lookupAuxOf(p, lenWord), len);
  return p;
}

/** NdisAllocateMemoryWithTagPriority: `handle` must be live. Returns address, 0 or error. */
export function memoryAllocate(handle: usize, len: u32, tag: u32): usize {
  let e = ownerCheck(handle, 0, false);
  if (e != E_OK) return e;
  return memAlloc(K_MEMORY, tag, len, 1, 0);
}

/** NdisFreeMemoryWithTagPriority. Returns E_OK or an error (E_WRONG_TAG: detail = real tag). */
export function memoryFree(handle: usize, va: usize, tag: u32): u32 {
  let e = ownerCheck(handle, 0, false);
  if (e != E_OK) return e;
  e = lookup(va, K_MEMORY);
  if (e != E_OK) return argErr(1, e);
  let pool = lookedUpPool();
  if (pU32(pool, P_TAG) != tag) { gErrDetail = pU32(pool, P_TAG); return E_WRONG_TAG; }
  freeLookedUp();
  return E_OK;
}

/** NdisAllocateGenericObject. Returns the object or 0. */
export function genericAllocate(driverObject: u32, tag: u32, size: u32): usize {
  // Side words: 0 = pools owned (POOL-6), 1 = length.
  let obj = memAlloc(K_GENERIC, tag, GOBJ_SIZE + size, 2, 1);
  if (obj == 0) return 0;
  memory.fill(obj, 0, GOBJ_SIZE + size);
  store<u8>(obj + GOBJ_HEADER, GENERIC_OBJECT_HEADER_TYPE);
  store<u8>(obj + GOBJ_HEADER + 1, 1); // NDIS_GENERIC_OBJECT_REVISION_1
  store<u16>(obj + GOBJ_HEADER + 2, <u16>GOBJ_SIZE);
  store<u32>(obj + GOBJ_DRIVER_OBJECT, driverObject);
  store<u32>(lookupAuxOf(obj, 0), 0);
  return obj;
}

/** NdisFreeGenericObject. E_POOL6 while it owns pools. */
export function genericFree(obj: usize): u32 {
  let e = lookup(obj, K_GENERIC);
  if (e != E_OK) return argErr(0, e);
  let owned = load<u32>(lookedUpAux(0));
  if (owned != 0) { gErrDetail = owned; return E_POOL6; }
  freeLookedUp();
  return E_OK;
}

// ---------------------------------------------------------------------------------------------
// MDLs
// ---------------------------------------------------------------------------------------------

/** Fills an MDL describing [va, va + len) of nonpaged memory. */
export function mdlInit(mdl: usize, va: usize, len: u32, extraFlags: u16): void {
  store<u32>(mdl + MDL_NEXT, 0);
  store<u16>(mdl + MDL_SIZE_FIELD, <u16>MDL_SIZE);
  store<u16>(mdl + MDL_FLAGS, MDL_SOURCE_IS_NONPAGED_POOL | MDL_MAPPED_TO_SYSTEM_VA | extraFlags);
  store<u32>(mdl + 8, 0); // Process
  store<u32>(mdl + MDL_MAPPED_SYSTEM_VA, <u32>va);
  store<u32>(mdl + MDL_START_VA, <u32>(va & ~<usize>PAGE_MASK));
  store<u32>(mdl + MDL_BYTE_COUNT, len);
  store<u32>(mdl + MDL_BYTE_OFFSET, <u32>(va & PAGE_MASK));
}

/**
 * Checks that [va, va + len) lies inside one live caller-visible allocation (tagged memory,
 * a generic object, a SlabPool object or an NB's data). Returns E_OK or E_BAD_RANGE.
 */
export function rangeCheck(va: usize, len: u32): u32 {
  if (va == 0) return E_BAD_RANGE;
  let start = containing(va);
  if (start == 0) return E_BAD_RANGE;
  let pool = lookedUpPool();
  let kind = pU32(pool, P_KIND);
  // The object's requested length: per object for variable-size memory, per pool otherwise.
  let length: u32;
  if (kind == K_MEMORY) length = load<u32>(lookedUpAux(0));
  else if (kind == K_GENERIC) length = load<u32>(lookedUpAux(1));
  else if (kind == K_SLAB_OBJ || kind == K_NB || kind == K_NBL) length = pU32(pool, P_REQ_SIZE);
  else return E_BAD_RANGE;
  if (<u64>va + len > <u64>start + length) return E_BAD_RANGE;
  return E_OK;
}

/** NdisAllocateMdl. Returns the MDL, 0, or an error (argument 0: handle, 1: the range). */
export function mdlAllocate(handle: usize, va: usize, len: u32): usize {
  let e = ownerCheck(handle, 0, false);
  if (e != E_OK) return e;
  if (rangeCheck(va, len) != E_OK) { gErrPtr = va; return E_BAD_RANGE; }
  let mdl = poolAlloc(root(ROOT_MDLS));
  if (mdl == 0) return 0;
  mdlInit(mdl, va, len, 0);
  store<u32>(lookupAuxOf(mdl, 0), <u32>handle);
  store<u32>(lookedUpAux(1), 0); // not retreat-owned (a reused slot may hold old flags)
  store<u32>(lookedUpAux(2), 0);
  store<u32>(lookedUpAux(3), 0); // chained to no packet
  return mdl;
}

/** NdisFreeMdl. */
export function mdlFree(mdl: usize): u32 {
  let e = lookup(mdl, K_MDL);
  if (e != E_OK) return argErr(0, e);
  // A retreat's default allocator owns its MDLs: only advance or NdisFreeNetBuffer free them.
  if (load<u32>(lookedUpAux(1)) & MDLR_DEFAULT) { gErrPtr = mdl; return E_ADV2; }
  // An NDIS_BUFFER still chained to a live packet (PKT-2).
  let p = chainedTo(mdl);
  if (p != 0) { gErrPtr = mdl; gErrDetail = <u32>p; return E_BUF_CHAINED; }
  lookup(mdl, K_MDL);
  freeLookedUp();
  return E_OK;
}

/**
 * Checks that `mdl` is a live MDL: one from NdisAllocateMdl, or the MDL inside a live
 * MdlAndData NET_BUFFER. Returns E_OK or the error of the NdisAllocateMdl check.
 */
export function mdlCheck(mdl: usize): u32 {
  let e = lookup(mdl, K_MDL);
  if (e == E_OK) return E_OK;
  if (e == E_WRONG_KIND) {
    // The MDL inside an MdlAndData NET_BUFFER or an NBL with data: live with its owner.
    let e2 = embeddedMdl(mdl);
    if (e2 == E_OK) return E_OK;
    if (e2 == E_NOT_ALLOCATED) { gErrPtr = mdl; return E_NOT_ALLOCATED; }
  }
  gErrPtr = mdl;
  return e;
}

// ---------------------------------------------------------------------------------------------
// NET_BUFFER pools and NET_BUFFERs
// ---------------------------------------------------------------------------------------------

/**
 * Creates an NDIS pool (NET_BUFFER or NET_BUFFER_LIST) whose descriptor is an object of root
 * pool `rootIdx`, owned by `owner` (already checked; `ownerAux` is its owned-pools counter).
 * Returns the pool handle or 0 (out of memory, or objects too large for the address space).
 */
export function ndisPoolNew(
  rootIdx: u32, owner: usize, ownerAux: usize, kind: u32, tag: u32, objSize: u64, auxWords: u32,
  dataSize: u32, flags: u32,
): usize {
  if (objSize > 0xFFF00000) return 0; // cannot fit in a 32-bit address space
  let pool = poolAlloc(root(rootIdx));
  if (pool == 0) return 0;
  poolInit(pool, kind, tag, <u32>objSize, auxWords, 0, <u32>owner);
  // NET_BUFFER(_LIST)_POOL_FLAG_VERIFY (bit 0 of both): frees are poisoned and quarantined
  // even outside verifier mode (DESIGN D7). No memory for the quarantine ring (or for the
  // tag's counters): NULL.
  tagSetReserve(pool); // best effort: a runtime at its very last unit still gets the pool
  if ((flags & 1) && !quarantinePool(pool)) {
    lookup(pool, 0);
    freeLookedUp();
    return 0;
  }
  pSet(pool, P_USER0, dataSize);
  pSet(pool, P_USER1, flags);
  if (ownerAux) store<u32>(ownerAux, load<u32>(ownerAux) + 1);
  return pool;
}

/**
 * Frees an NDIS pool handle whose descriptor is of kind `descKind`: E_POOL5 while objects are
 * outstanding (detail = count); else its counters are retired to its tag, its slabs released,
 * its descriptor freed and its owner's count lowered.
 */
export function ndisPoolFree(h: usize, descKind: u32): u32 {
  let e = lookup(h, descKind);
  if (e != E_OK) return argErr(0, e);
  let out = cachesRetire(h, true); // objects in worker caches are not outstanding
  if (out != 0) { gErrDetail = out; return E_POOL5; }
  cachesRetire(h, false);
  let owner = <usize>pU32(h, P_OWNER);
  retire(h);
  poolRelease(h);
  lookup(h, descKind);
  freeLookedUp();
  ownerAdd(owner, -1);
  return E_OK;
}

/**
 * NdisAllocateNetBufferPool (parameters already checked by src/). Returns the pool handle, 0
 * when out of memory, or an error about the NdisHandle.
 */
export function nbPoolCreate(owner: usize, tag: u32, dataSize: u32, flags: u32): usize {
  let e = ownerCheck(owner, 0, true);
  if (e != E_OK) return e;
  let objSize = dataSize == 0 ? <u64>NB_SIZE : <u64>MDAT_DATA + dataSize;
  return ndisPoolNew(ROOT_NB_POOLS, owner, gOwnerAux, K_NB, tag, objSize, 0, dataSize, flags);
}

/** Checks an NB pool handle (argument `arg`). */
// @ts-ignore: decorator
@inline function nbPoolCheck(h: usize, arg: u32): u32 {
  let e = lookup(h, K_NB_POOL);
  return e == E_OK ? E_OK : argErr(arg, e);
}

/** NdisFreeNetBufferPool. E_POOL5 with NBs outstanding (detail = count). */
export function nbPoolFree(h: usize): u32 {
  return ndisPoolFree(h, K_NB_POOL);
}

/**
 * Points CurrentMdl/CurrentMdlOffset at logical position DataOffset (DESIGN, decision 4: an
 * MDL boundary moves to the next MDL at offset 0; at the chain end the pair stays on the last
 * MDL with offset = its ByteCount).
 */
export function nbAdjustCurrent(nb: usize): void {
  let rem = load<u32>(nb + NB_DATA_OFFSET);
  let m = <usize>load<u32>(nb + NB_MDL_CHAIN);
  if (m == 0) {
    store<u32>(nb + NB_CURRENT_MDL, 0);
    store<u32>(nb + NB_CURRENT_MDL_OFFSET, 0);
    return;
  }
  while (true) {
    let bc = load<u32>(m + MDL_BYTE_COUNT);
    let next = <usize>load<u32>(m + MDL_NEXT);
    if (rem < bc || next == 0) break;
    rem -= bc;
    m = next;
  }
  store<u32>(nb + NB_CURRENT_MDL, <u32>m);
  store<u32>(nb + NB_CURRENT_MDL_OFFSET, rem);
}

/** Bytes described by the chain at `mdl` (validated, loop-checked); sets gChainBytes. */
export let gChainBytes: u64 = 0;
export function chainCheck(mdl: usize): u32 {
  let total: u64 = 0;
  let slow = mdl;
  let fast = mdl;
  let steps: u32 = 0;
  while (fast != 0) {
    let e = mdlCheck(fast);
    if (e != E_OK) return e;
    total += load<u32>(fast + MDL_BYTE_COUNT);
    fast = <usize>load<u32>(fast + MDL_NEXT);
    if ((++steps & 1) == 0) {
      slow = <usize>load<u32>(slow + MDL_NEXT);
      if (slow == fast && fast != 0) { gErrPtr = mdl; return E_MDL_LOOP; }
    }
  }
  gChainBytes = total;
  return E_OK;
}

/** NdisAllocateNetBuffer. Returns the NB, 0, or an error. */
export function nbAllocate(h: usize, mdlChain: usize, dataOffset: u32, dataLength: u32): usize {
  let e = nbPoolCheck(h, 0);
  if (e != E_OK) return e;
  if (pU32(h, P_USER0) != 0) return E_POOL4;
  e = nbChainArgsCheck(mdlChain, dataOffset, dataLength, 1);
  if (e != E_OK) return e;
  let nb = poolAlloc(h);
  if (nb == 0) return 0;
  memory.fill(nb, 0, NB_SIZE);
  store<u32>(nb + NB_NDIS_POOL_HANDLE, <u32>h);
  nbSetChain(nb, mdlChain, dataOffset, dataLength);
  return nb;
}

/**
 * The caller-chain arguments of NdisAllocateNetBuffer and NdisAllocateNetBufferAndNetBufferList:
 * MdlChain NULL needs DataOffset = DataLength = 0 (NB-ARGS); else a live, loop-free chain
 * (errors about argument `arg`) describing at least DataOffset + DataLength bytes (NB-CONS).
 */
export function nbChainArgsCheck(mdlChain: usize, dataOffset: u32, dataLength: u32, arg: u32): u32 {
  if (mdlChain == 0) return (dataOffset | dataLength) != 0 ? E_NB_ARGS : E_OK;
  let e = chainCheck(mdlChain);
  if (e != E_OK) return e == E_MDL_LOOP ? E_MDL_LOOP : argErr(arg, e);
  if (<u64>dataOffset + dataLength > gChainBytes) { gErrDetail = <u32>gChainBytes; return E_NB_RANGE; }
  return E_OK;
}

/** Puts `nb` over a checked MDL chain: MdlChain, DataOffset, DataLength and the current pair. */
export function nbSetChain(nb: usize, mdlChain: usize, dataOffset: u32, dataLength: u32): void {
  store<u32>(nb + NB_MDL_CHAIN, <u32>mdlChain);
  store<u32>(nb + NB_DATA_OFFSET, dataOffset);
  store<u32>(nb + NB_DATA_LENGTH, dataLength);
  nbAdjustCurrent(nb);
}

/** NdisAllocateNetBufferMdlAndData: NB + MDL + DataSize bytes in one slab object. */
export function nbAllocateMdlAndData(h: usize): usize {
  let e = nbPoolCheck(h, 0);
  if (e != E_OK) return e;
  let dataSize = pU32(h, P_USER0);
  if (dataSize == 0) return E_POOL4;
  let nb = poolAlloc(h);
  if (nb == 0) return 0;
  nbInitPreallocated(nb, h, dataSize);
  return nb;
}

/**
 * Initialises a NET_BUFFER that comes with its object (MdlAndData, or preallocated in an NBL):
 * zeroed, NdisPoolHandle = `pool`, and with `dataSize` > 0 its MDL at +MDAT_MDL over the data
 * at +MDAT_DATA, all of it used (DataOffset 0, DataLength = dataSize).
 */
export function nbInitPreallocated(nb: usize, pool: usize, dataSize: u32): void {
  memory.fill(nb, 0, dataSize != 0 ? MDAT_DATA : NB_SIZE);
  store<u32>(nb + NB_NDIS_POOL_HANDLE, <u32>pool);
  if (dataSize == 0) return;
  let mdl = nb + MDAT_MDL;
  mdlInit(mdl, nb + MDAT_DATA, dataSize, MDL_ALLOCATED_FIXED_SIZE);
  store<u32>(nb + NB_MDL_CHAIN, <u32>mdl);
  store<u32>(nb + NB_CURRENT_MDL, <u32>mdl);
  store<u32>(nb + NB_DATA_LENGTH, dataSize);
}

/** NdisFreeNetBuffer. */
export function nbFree(nb: usize): u32 {
  let e = lookup(nb, K_NB);
  if (e == E_WRONG_KIND) {
    let e2 = preallocNb(nb);
    if (e2 == E_OK) return E_NBL_FREE1;
    if (e2 == E_NOT_ALLOCATED) return argErr(0, E_NOT_ALLOCATED); // the NB of a freed NBL
  }
  if (e != E_OK) return argErr(0, e);
  // DESIGN decision 21: MDLs a retreat put in front are freed with the NB. The common case, an
  // MdlAndData NB whose chain starts at its own MDL, has none (freeRetreatMdls would stop at
  // that MDL, which is no K_MDL object), so the walk and a second lookup are skipped.
  if (<usize>load<u32>(nb + NB_MDL_CHAIN) != nb + MDAT_MDL) {
    freeRetreatMdls(nb);
    lookup(nb, K_NB);
  }
  freeLookedUp();
  return E_OK;
}

/** An error of the bulk NB calls: the high bit set, so that it differs from any count. */
// @ts-ignore: decorator
@inline export const BULK_ERR: u32 = 0x80000000;

/**
 * Bulk NdisAllocateNetBufferMdlAndData: up to `n` NBs of pool `h` into the u32 array at `out`,
 * each initialised as NdisAllocateNetBufferMdlAndData does. Returns how many (fewer only at
 * exhaustion), or BULK_ERR | the error for a bad pool handle (nothing allocated then).
 */
export function nbAllocateMdlAndDataMany(h: usize, out: usize, n: u32): u32 {
  let e = nbPoolCheck(h, 0);
  if (e != E_OK) return BULK_ERR | e;
  let dataSize = pU32(h, P_USER0);
  if (dataSize == 0) return BULK_ERR | E_POOL4;
  let got = poolAllocMany(h, out, n);
  for (let i: u32 = 0; i < got; i++) nbInitPreallocated(<usize>load<u32>(out + (<usize>i << 2)), h, dataSize);
  return got;
}

/**
 * Bulk NdisFreeNetBuffer of the `n` NBs listed at `ptrs`, all or nothing: every entry is checked
 * as NdisFreeNetBuffer checks it, and a duplicate in the list is an error too. On an error
 * nothing is freed, gErrDetail holds the entry's index and the error (as nbFree returns it) is
 * returned. With `commit` 0 the entries are only checked.
 */
export function nbFreeMany(ptrs: usize, n: u32, commit: u32): u32 {
  let i: u32 = 0;
  let err: u32 = E_OK;
  for (; i < n; i++) {
    let nb = <usize>load<u32>(ptrs + (<usize>i << 2));
    let e = lookup(nb, K_NB);
    if (e == E_OK) {
      store<u8>(gSlab + SL_STATE + gIdx, ST_FREEING); // a second entry for it is then a duplicate
      continue;
    }
    if (e == E_WRONG_KIND) {
      let e2 = preallocNb(nb);
      if (e2 == E_OK) { err = E_NBL_FREE1; break; }
      if (e2 == E_NOT_ALLOCATED) e = E_NOT_ALLOCATED;
    } else if (e == E_NOT_ALLOCATED) {
      let slab = slabOf(nb); // lookup got as far as the state byte: an object start of this slab
      if (load<u8>(slab + SL_STATE + indexIn(slab, nb)) == ST_FREEING) e = E_DUPLICATE;
    }
    err = argErr(0, e);
    break;
  }
  // Back to ALLOCATED: all of them on an error or a check, the freed ones one by one below.
  if (err != E_OK || commit == 0) {
    for (let j: u32 = 0; j < i; j++) setState(<usize>load<u32>(ptrs + (<usize>j << 2)), ST_ALLOCATED);
    if (err != E_OK) {
      gErrPtr = <usize>load<u32>(ptrs + (<usize>i << 2));
      gErrDetail = i;
    }
    return err;
  }
  // As nbFree: MDLs a retreat put in front go with the NB (DESIGN decision 21).
  for (let j: u32 = 0; j < n; j++) {
    let nb = <usize>load<u32>(ptrs + (<usize>j << 2));
    if (<usize>load<u32>(nb + NB_MDL_CHAIN) != nb + MDAT_MDL) freeRetreatMdls(nb);
  }
  // Then the NBs, a run of entries of one pool at a time.
  for (let j: u32 = 0; j < n; ) {
    let pool = <usize>sU32(slabOf(<usize>load<u32>(ptrs + (<usize>j << 2))), SL_POOL);
    let k = j + 1;
    while (k < n && <usize>sU32(slabOf(<usize>load<u32>(ptrs + (<usize>k << 2))), SL_POOL) == pool) k++;
    poolReleaseChecked(pool, ptrs + (<usize>j << 2), k - j);
    j = k;
  }
  return E_OK;
}

/** NdisGetPoolFromNetBuffer: the pool that owns the slab (authoritative), or an error. */
export function nbPool(nb: usize): usize {
  let e = nbLive(nb);
  if (e != E_OK) return argErr(0, e);
  return slabPoolOf(nb); // the NB pool, or the NBL pool of a preallocated NB
}

/** The pool owning the slab of a live object (NB pool, or NBL pool for a preallocated NB). */
function slabPoolOf(p: usize): usize {
  return <usize>sU32(slabOf(p), SL_POOL);
}

/** Checks a live NB (a pool NB or an NBL's preallocated NB) for the accessors. */
export function nbCheck(nb: usize): u32 {
  return nbLive(nb);
}

// ---------------------------------------------------------------------------------------------
// Idiomatic SlabPool descriptors
// ---------------------------------------------------------------------------------------------

/** Creates a SlabPool of `objectSize`-byte objects. Returns the handle or 0. */
export function slabPoolCreate(objectSize: u32, tag: u32, maxOut: u32): usize {
  let pool = poolAlloc(root(ROOT_SLAB_POOLS));
  if (pool == 0) return 0;
  if (!poolInit(pool, K_SLAB_OBJ, tag, objectSize, 0, 0, 0)) {
    lookup(pool, K_SLAB_POOL);
    freeLookedUp();
    return 0;
  }
  pSet(pool, P_MAX_OUT, maxOut);
  // No tagSetReserve here: a SlabPool must fit in the smallest runtime (1 MiB) with its first
  // object; its retired counters are kept when it is destroyed, memory permitting.
  return pool;
}

/** Destroys a SlabPool; with `force`, live objects are dropped. E_POOL5 otherwise. */
export function slabPoolDestroy(pool: usize, force: bool): u32 {
  let e = lookup(pool, K_SLAB_POOL);
  if (e != E_OK) return argErr(0, e);
  let out = cachesRetire(pool, true);
  if (out != 0 && !force) { gErrDetail = out; return E_POOL5; }
  cachesRetire(pool, false);
  genRelease(pool);
  retire(pool);
  poolRelease(pool);
  lookup(pool, K_SLAB_POOL);
  freeLookedUp();
  return E_OK;
}

