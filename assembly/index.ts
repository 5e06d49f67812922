// ndis-pool: the Wasm module's exports. Thin and flat: u32 in, u32 out (DESIGN, "The shape").
// Pointers returned are >= 64 KiB; 0 is NULL (exhaustion); values in 1..63 are error codes
// (layout.ts E_*) that src/ turns into NdisBugCheck exceptions.

import {
  NB_SIZE, NB_NEXT, NB_CURRENT_MDL, NB_CURRENT_MDL_OFFSET, NB_DATA_LENGTH, NB_MDL_CHAIN,
  NB_DATA_OFFSET, NB_CHECKSUM_BIAS, NB_NDIS_POOL_HANDLE, NB_NDIS_RESERVED, NB_PROTOCOL_RESERVED,
  NB_MINIPORT_RESERVED, NB_DATA_PHYSICAL_ADDRESS, MDL_SIZE, MDL_NEXT, MDL_SIZE_FIELD, MDL_FLAGS,
  MDL_PROCESS, MDL_MAPPED_SYSTEM_VA, MDL_START_VA, MDL_BYTE_COUNT, MDL_BYTE_OFFSET, MDAT_MDL,
  MDAT_DATA, GOBJ_SIZE, POOL_DESC_SIZE, P_KIND, P_TAG, P_OBJ_SIZE, P_OUTSTANDING, P_PEAK,
  P_ALLOCS, P_FREES, P_FAILURES, P_BYTES, P_ID, P_REQ_SIZE, P_MAX_OUT, P_USER0, P_USER1, P_OWNER,
  P_SLAB_COUNT, P_SLAB_UNITS, P_CAP, P_FLAGS, ROOT_MDLS, ROOT_NB_POOLS, ROOT_SLAB_POOLS,
  ROOT_MEM_POOLS, UNIT_SHIFT, SL_POOL, SL_STATE, SL_OBJ_START, SL_OBJ_SIZE, SL_CAP, SL_FREE_TOP, SL_UNITS,
  ROOT_PROTOCOLS, ROOT_TAG_SETS, TS_KIND, TS_TAG, TS_R_ALLOCS, TS_R_FREES, TS_R_FAILURES,
  TS_R_PEAK, TS_R_POOLS, P_UNITS,
  NBL_NEXT, NBL_FIRST_NB, NBL_CONTEXT, NBL_PARENT, NBL_NDIS_POOL_HANDLE, NBL_NDIS_RESERVED, NBL_PROTOCOL_RESERVED, NBL_MINIPORT_RESERVED, NBL_SCRATCH, NBL_SOURCE_HANDLE, NBL_NBL_FLAGS, NBL_CHILD_REF_COUNT, NBL_FLAGS, NBL_STATUS, NBL_INFO, NBL_INFO_COUNT, NBL_INFO_PROTOCOL_ID, NBL_SIZE, NBLC_NEXT, NBLC_SIZE, NBLC_OFFSET, NBLC_DATA, ROOT_NBL_POOLS,
  ST_ALLOCATED, ST_CACHED, ROOT_LCACHES, P_CURRENT,
  K_PACKET_POOL, K_BUFFER_POOL, K_PACKET, ROOT_PACKET_POOLS, ROOT_BUFFER_POOLS, PK_PHYSICAL_COUNT, PK_TOTAL_LENGTH, PK_HEAD, PK_TAIL, PK_POOL, PK_COUNT, PK_FLAGS, PK_VALID_COUNTS, PK_PACKET_FLAGS, PK_OOB_OFFSET, PK_MINIPORT_RESERVED, PK_RESERVED, PK_PROTOCOL_RESERVED, OOB_HEADER_SIZE, OOB_STATUS, OOB_SIZE, MAX_PER_PACKET_INFO,
} from "./layout";
import { pagesInit, heapReserve, memoryBytes, unitsOwned, unitsFreeCount, unitsTop, maxPagesGet, R_ROOTS, R_FAULT } from "./pages";
import { C_POOL, C_COUNT, C_SIZE, C_ALLOCS, C_MOVED, C_LOW, C_ENTRIES, LCACHE_SIZE } from "./wcache";
import {
  poolAlloc, poolAllocMany, poolFree, poolFreeMany, poolFreeUnchecked, poolFreeManyUnchecked, poolSetMax, root, liveObjects, liveNext,
  faultsSet, faultsInjected,
  gErrPtr, gErrDetail,
} from "./slab";
import { rootsInit, rootBytes } from "./netbuf";

export {
  resetAll, protocolRegister, protocolDeregister, protocolCharsId, ownedPools,
  memoryAllocate, memoryFree, genericAllocate, genericFree, mdlAllocate, mdlFree, mdlCheck,
  nbPoolCreate, nbPoolFree, nbAllocate, nbAllocateMdlAndData, nbFree, nbPool, nbCheck,
  nbAllocateMdlAndDataMany, nbFreeMany,
  nbAdjustCurrent, chainCheck, rangeCheck, slabPoolCreate, slabPoolDestroy, classSize, sizeClass,
} from "./netbuf";
export {
  nblPoolCreate, nblPoolFree, nblAllocate, nblAllocateWithNb, nblFree, nblPool, nblCheck,
  nblFreeChain, nblCountChain, nbCountChain, ctxAllocate, ctxFree,
} from "./nbl";
export { preallocNb, embeddedMdl } from "./embedded";
export {
  nbRetreatFast, retreatAllocDefault, retreatFreeDefault, retreatReleaseHandlerMdl, nbPrepend,
  nbAdvance, nbAdvanceCheck, nbAdjust, nbGetDataBuffer, nbCopy, nbPhysicalCount,
} from "./dataspace";
import { gDsResult } from "./dataspace";
export {
  packetSize, packetPoolCreate, packetPoolFree, packetPoolCheck, packetPoolSetProtocolId,
  packetAllocate, packetCheck, packetFree, bufferPoolCreate, bufferPoolFree, bufferAllocate,
  bufferFree, chainAtFront, chainAtBack, unchainAtFront, unchainAtBack, packetReinitialize,
  packetQuery, packetPoolOverflowInUse,
} from "./packet";
import { gPkResult } from "./packet";
export { genEnable, genAlloc, genFree, genPtr, genAllocMany, genFreeMany, genNextLive, genTable } from "./gentable";
export {
  hubCreate, hubCheck, hubDestroy, nicCreate, nicCheck, nicHeld, nicDestroy, nicAttach, nicDetach,
  nicSetReady, nicPostRecv, nicPostRecvChain, nicSend, nicTakeImmediate, hubDpc, nicTakeDone, nicTakeRx, nicStop, nicUnpostRecv, nicCancel,
} from "./nic";
export { ringCreate, ringCheck, ringDestroy, ringBase, ringEnqueue, ringDequeue, ringBenchLoop } from "./ring";
/** Result of the last packet call (an unchained buffer). */
export function pkResult(): u32 { return gPkResult; }
/** Result of the last data-space call (bytes copied, pages, handler MDL list). */
export function dsResult(): u32 { return gDsResult; }
import { gResult } from "./nbl";
/** Result of the last chain call (a count). */
export function lastResult(): u32 { return gResult; }
export { memoryBytes, unitsOwned, unitsFreeCount, unitsTop, maxPagesGet, heapReserve };
export { poolSetMax, liveObjects, liveNext, faultsSet, faultsInjected };
export { quarantineEnable, quarantinePool, quarantineCount } from "./slab";

/** Sets up the runtime within `maxPages` 64 KiB pages. Returns the root address, or 0. */
export function init(maxPages: u32): usize {
  let r = pagesInit(maxPages, rootBytes());
  if (r == 0) return 0;
  rootsInit();
  return r;
}

/** Address of the slab table (JS reads it for O(1) accessor checks). */
export function slabTable(): usize { return load<u32>(root(0) - R_ROOTS); }

/** Root pool descriptor `i` (ROOT_*). */
export function rootPool(i: u32): usize { return root(i); }

/** Detail of the last error: the pointer involved, and a detail word. */
export function errPtr(): usize { return gErrPtr; }
export function errDetail(): u32 { return gErrDetail; }

/** SlabPool hot path: alloc (0 when exhausted). `pool` is trusted (held by src/pool.ts). */
export function spAlloc(pool: usize): usize { return poolAlloc(pool); }
/** SlabPool free: validated. Returns 0 (E_OK) or an error code. */
export function spFree(pool: usize, ptr: usize): u32 { return poolFree(pool, ptr); }
export function spAllocMany(pool: usize, out: usize, n: u32): u32 { return poolAllocMany(pool, out, n); }
export function spFreeMany(pool: usize, ptrs: usize, n: u32): u32 { return poolFreeMany(pool, ptrs, n); }
/** SlabPool `checked: false` (DESIGN D6): the caller is trusted; see poolFreeUnchecked. */
export function spFreeU(pool: usize, ptr: usize): u32 { return poolFreeUnchecked(pool, ptr); }
export function spFreeManyU(pool: usize, ptrs: usize, n: u32): u32 { return poolFreeManyUnchecked(pool, ptrs, n); }

/**
 * Benchmark limit: `rounds` rounds of allocating `batch` objects and freeing them again, the
 * same bulk calls as SlabPool.allocMany + freeMany but entirely inside Wasm (no boundary
 * crossing). The frees are unvalidated (`checked` 0, the `checked: false` free) or validated
 * (`checked` 1). Returns the number of failed allocations.
 */
export function benchAllocFreeLoop(pool: usize, rounds: u32, batch: u32, scratch: usize, checked: u32): u32 {
  let failed: u32 = 0;
  for (let r: u32 = 0; r < rounds; r++) {
    let got = poolAllocMany(pool, scratch, batch);
    failed += batch - got;
    if (checked) poolFreeMany(pool, scratch, got);
    else poolFreeManyUnchecked(pool, scratch, got);
  }
  return failed;
}

/** Empty export: the cost of one JS->Wasm call (benchmark baseline). */
export function nop(x: u32): u32 { return x; }

/** Layout values, so the TS mirror can be checked against the Wasm side. */
export function layout(which: u32): u32 {
  switch (which) {
    case 0: return NB_SIZE;
    case 1: return NB_NEXT;
    case 2: return NB_CURRENT_MDL;
    case 3: return NB_CURRENT_MDL_OFFSET;
    case 4: return NB_DATA_LENGTH;
    case 5: return NB_MDL_CHAIN;
    case 6: return NB_DATA_OFFSET;
    case 7: return NB_CHECKSUM_BIAS;
    case 8: return NB_NDIS_POOL_HANDLE;
    case 9: return NB_NDIS_RESERVED;
    case 10: return NB_PROTOCOL_RESERVED;
    case 11: return NB_MINIPORT_RESERVED;
    case 12: return NB_DATA_PHYSICAL_ADDRESS;
    case 13: return MDL_SIZE;
    case 14: return MDL_NEXT;
    case 15: return MDL_SIZE_FIELD;
    case 16: return MDL_FLAGS;
    case 17: return MDL_PROCESS;
    case 18: return MDL_MAPPED_SYSTEM_VA;
    case 19: return MDL_START_VA;
    case 20: return MDL_BYTE_COUNT;
    case 21: return MDL_BYTE_OFFSET;
    case 22: return MDAT_MDL;
    case 23: return MDAT_DATA;
    case 24: return GOBJ_SIZE;
    case 25: return POOL_DESC_SIZE;
    case 26: return P_KIND;
    case 27: return P_TAG;
    case 28: return P_OBJ_SIZE;
    case 29: return P_OUTSTANDING;
    case 30: return P_PEAK;
    case 31: return P_ALLOCS;
    case 32: return P_FREES;
    case 33: return P_FAILURES;
    case 34: return P_BYTES;
    case 35: return P_ID;
    case 36: return P_REQ_SIZE;
    case 37: return P_MAX_OUT;
    case 38: return P_USER0;
    case 39: return P_USER1;
    case 40: return P_OWNER;
    case 41: return P_SLAB_COUNT;
    case 42: return P_SLAB_UNITS;
    case 43: return P_CAP;
    case 44: return P_FLAGS;
    case 45: return ROOT_MDLS;
    case 46: return ROOT_NB_POOLS;
    case 47: return ROOT_SLAB_POOLS;
    case 48: return ROOT_MEM_POOLS;
    case 49: return UNIT_SHIFT;
    case 50: return SL_POOL;
    case 51: return SL_STATE;
    case 52: return SL_OBJ_START;
    case 53: return SL_OBJ_SIZE;
    case 54: return SL_CAP;
    case 55: return ROOT_PROTOCOLS;
    case 56: return ROOT_TAG_SETS;
    case 57: return TS_KIND;
    case 58: return TS_TAG;
    case 59: return TS_R_ALLOCS;
    case 60: return TS_R_FREES;
    case 61: return TS_R_FAILURES;
    case 62: return TS_R_PEAK;
    case 63: return TS_R_POOLS;
    case 64: return P_UNITS;
    case 65: return NBL_NEXT;
    case 66: return NBL_FIRST_NB;
    case 67: return NBL_CONTEXT;
    case 68: return NBL_PARENT;
    case 69: return NBL_NDIS_POOL_HANDLE;
    case 70: return NBL_NDIS_RESERVED;
    case 71: return NBL_PROTOCOL_RESERVED;
    case 72: return NBL_MINIPORT_RESERVED;
    case 73: return NBL_SCRATCH;
    case 74: return NBL_SOURCE_HANDLE;
    case 75: return NBL_NBL_FLAGS;
    case 76: return NBL_CHILD_REF_COUNT;
    case 77: return NBL_FLAGS;
    case 78: return NBL_STATUS;
    case 79: return NBL_INFO;
    case 80: return NBL_INFO_COUNT;
    case 81: return NBL_INFO_PROTOCOL_ID;
    case 82: return NBL_SIZE;
    case 83: return NBLC_NEXT;
    case 84: return NBLC_SIZE;
    case 85: return NBLC_OFFSET;
    case 86: return NBLC_DATA;
    case 87: return ROOT_NBL_POOLS;
    case 88: return K_PACKET_POOL;
    case 89: return K_BUFFER_POOL;
    case 90: return K_PACKET;
    case 91: return ROOT_PACKET_POOLS;
    case 92: return ROOT_BUFFER_POOLS;
    case 93: return PK_PHYSICAL_COUNT;
    case 94: return PK_TOTAL_LENGTH;
    case 95: return PK_HEAD;
    case 96: return PK_TAIL;
    case 97: return PK_POOL;
    case 98: return PK_COUNT;
    case 99: return PK_FLAGS;
    case 100: return PK_VALID_COUNTS;
    case 101: return PK_PACKET_FLAGS;
    case 102: return PK_OOB_OFFSET;
    case 103: return PK_MINIPORT_RESERVED;
    case 104: return PK_RESERVED;
    case 105: return PK_PROTOCOL_RESERVED;
    case 106: return OOB_HEADER_SIZE;
    case 107: return OOB_STATUS;
    case 108: return OOB_SIZE;
    case 109: return MAX_PER_PACKET_INFO;
    case 110: return SL_FREE_TOP;
    case 111: return SL_UNITS;
    case 112: return C_POOL;
    case 113: return C_COUNT;
    case 114: return C_SIZE;
    case 115: return C_ALLOCS;
    case 116: return C_MOVED;
    case 117: return C_ENTRIES;
    case 118: return ST_ALLOCATED;
    case 119: return ST_CACHED;
    case 120: return R_FAULT;
    case 121: return C_LOW;
    case 122: return LCACHE_SIZE;
    case 123: return ROOT_LCACHES;
    case 124: return P_CURRENT;
  }
  return 0xFFFFFFFF;
}

export { lockAcquire, lockRelease, lockSetCanWait } from "./pages";
import { pagesAttach, pagesDetach, lockSetCanWait } from "./pages";
/**
 * Attaches this instance to the runtime at `root` in an imported shared memory that another
 * instance initialised. `canWait`: this thread may block on the runtime lock. Returns the
 * worker id. The caller holds the runtime lock.
 */
export function attach(root: usize, canWait: bool): u32 {
  lockSetCanWait(canWait);
  return pagesAttach(root);
}

/** Detaches this instance (its worker caches were flushed). Returns the instances left. */
export function detachWorker(): u32 {
  return pagesDetach();
}
export {
  cacheOpen, cacheClose, cachesDetach, cacheSums, cacheSumAllocs, cacheSumFrees, cacheErrIndex,
  wcAlloc, wcFree, wcAllocMany, wcAllocManyLocal, wcFreeMany, cacheTrim, slabCached, cacheOpenNb, cacheMissPool, wcNbAlloc, wcNbFree,
} from "./wcache";

// Cross-worker descriptor rings (xring.ts). sharedRing* run under the runtime lock; xr* are the
// lock-free data path.
export {
  sharedRingCreate, sharedRingCheck, sharedRingDestroy, sharedRingWaiter,
  xrSetCanWait, xrEnqueue, xrDequeue,
} from "./xring";
export { hubUplink, hubUplinkDrain } from "./nic";
