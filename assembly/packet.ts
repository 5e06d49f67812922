// ndis-pool: NDIS 5 packet and buffer pools (NDIS-SPEC §3, §4.5, §8; DESIGN decisions 15-17).
//
// A packet pool is a slab pool of NDIS_PACKET descriptors (NdisPacketSize(ProtocolReservedLength)
// bytes each) with a hard limit: NumberOfDescriptors static descriptors, reserved up front, plus
// NumberOfOverflowDescriptors created on demand, the total capped at 0xFFFF. Each descriptor
// carries one side word: 1 when it is an overflow descriptor (DESIGN decision 16).
// NDIS_BUFFERs are MDLs (from the runtime's MDL pool); side word 3 of an MDL names the packet it
// is chained to, so a buffer freed or chained twice while on a live packet is caught.
//
// Packet pool descriptor: P_USER0 = ProtocolReservedLength, P_USER1 = NumberOfDescriptors
// (bits 0-15) | protocol ID (bits 24-31), P_USER2 = overflow descriptors in use; P_MAX_OUT is the
// limit.

import {
  E_OK, E_BAD_RANGE, E_PKT4, E_PKT1, E_BUF_CHAINED,
  K_PACKET_POOL, K_BUFFER_POOL, K_PACKET, K_MDL, ROOT_PACKET_POOLS, ROOT_BUFFER_POOLS, ROOT_MDLS,
  P_USER0, P_USER1, P_USER2, P_OUTSTANDING, PF_KEEP,
  PK_HEAD, PK_TAIL, PK_POOL, PK_FLAGS, PK_VALID_COUNTS, PK_PACKET_FLAGS, PK_OOB_OFFSET,
  PK_PHYSICAL_COUNT, PK_TOTAL_LENGTH, PK_COUNT, PK_PROTOCOL_RESERVED, OOB_SIZE,
  PACKET_EXTENSION_SIZE, PACKET_ALLOCATED_BY_NDIS, PACKET_POOL_MAX, MDL_NEXT, MDL_BYTE_COUNT,
  MDL_AUX_PACKET, PAGE_MASK, PAGE_SHIFT, MDL_FLAGS, MDL_MAPPED_TO_SYSTEM_VA,
  MDL_MAPPED_SYSTEM_VA, MDL_START_VA, MDL_BYTE_OFFSET,
} from "./layout";
import {
  poolInit, poolAlloc, poolRelease, poolReserve, poolSetMax, lookup, lookedUpPool, lookedUpAux,
  freeLookedUp, root, pU32, pSet, gErrPtr, gErrDetail,
} from "./slab";
import { argErr, mdlInit, rangeCheck, mdlCheck, retire, tagSetReserve } from "./netbuf";
import { chainedTo } from "./embedded";

/** Pool tag of packet descriptors ('NDpp' as poolmon shows it). */
// @ts-ignore: decorator
@inline const TAG_PACKET: u32 = 0x7070444e;

/** Result of the last packet call (query results are written into the packet itself). */
export let gPkResult: u32 = 0;

/** NdisPacketSize(ProtocolReservedSize): bytes of one descriptor block, or 0 if unrepresentable. */
export function packetSize(protocolReservedLength: u32): u32 {
  let oob = (<u64>PK_PROTOCOL_RESERVED + protocolReservedLength + 7) & ~(<u64>7);
  let total = oob + OOB_SIZE + PACKET_EXTENSION_SIZE;
  return total > 0xFFF00000 ? 0 : <u32>total;
}

// @ts-ignore: decorator
@inline function oobOffset(protocolReservedLength: u32): u32 {
  return (PK_PROTOCOL_RESERVED + protocolReservedLength + 7) & ~7;
}

/**
 * NdisAllocatePacketPoolEx (NdisAllocatePacketPool is overflow 0). Returns the pool handle or 0
 * (NDIS_STATUS_RESOURCES: more than 0xFFFF descriptors, or no memory for the static ones).
 */
export function packetPoolCreate(num: u32, overflow: u32, protocolReservedLength: u32): usize {
  if (num > PACKET_POOL_MAX) return 0;
  let size = packetSize(protocolReservedLength);
  // NdisPacketOobOffset is a USHORT: longer ProtocolReserved areas cannot be described.
  if (size == 0 || <u64>PK_PROTOCOL_RESERVED + protocolReservedLength + 7 > 0xFFFF) return 0;
  let limit = <u32>min<u64>(PACKET_POOL_MAX, <u64>num + overflow);
  let pool = poolAlloc(root(ROOT_PACKET_POOLS));
  if (pool == 0) return 0;
  poolInit(pool, K_PACKET, TAG_PACKET, size, 1, PF_KEEP, 0);
  pSet(pool, P_USER0, protocolReservedLength);
  pSet(pool, P_USER1, num);
  pSet(pool, P_USER2, 0);
  poolSetMax(pool, limit);
  // The static descriptors are allocated up front (NDIS-SPEC §8); the tag's counters too.
  tagSetReserve(pool);
  if (!poolReserve(pool, num)) {
    poolRelease(pool);
    lookup(pool, K_PACKET_POOL);
    freeLookedUp();
    return 0;
  }
  return pool;
}

/** NdisFreePacketPool. PKT-4 while packets are outstanding. */
export function packetPoolFree(h: usize): u32 {
  let e = lookup(h, K_PACKET_POOL);
  if (e != E_OK) return argErr(0, e);
  let out = pU32(h, P_OUTSTANDING);
  if (out != 0) { gErrDetail = out; gErrPtr = h; return E_PKT4; }
  retire(h);
  poolRelease(h);
  lookup(h, K_PACKET_POOL);
  freeLookedUp();
  return E_OK;
}

/** Checks a packet pool handle; returns E_OK or an error about argument `arg`. */
export function packetPoolCheck(h: usize, arg: u32): u32 {
  let e = lookup(h, K_PACKET_POOL);
  return e == E_OK ? E_OK : argErr(arg, e);
}

/** NdisSetPacketPoolProtocolId: the low nibble of every later packet's Private.Flags. */
export function packetPoolSetProtocolId(h: usize, id: u32): u32 {
  let e = packetPoolCheck(h, 0);
  if (e != E_OK) return e;
  pSet(h, P_USER1, (pU32(h, P_USER1) & 0xFFFF) | ((id & 0xFF) << 24));
  return E_OK;
}

/**
 * NdisAllocatePacket: a zeroed descriptor with Private.Pool, NdisPacketFlags =
 * fPACKET_ALLOCATED_BY_NDIS, NdisPacketOobOffset and the pool's protocol ID; Head/Tail NULL and
 * ValidCounts FALSE. Returns the packet, 0 at the limit (RESOURCES), or an error.
 */
export function packetAllocate(h: usize): usize {
  let e = packetPoolCheck(h, 2);
  if (e != E_OK) return e;
  let num = pU32(h, P_USER1) & 0xFFFF;
  // Overflow only while every static descriptor is in use (outstanding counts both kinds).
  let overflow = pU32(h, P_OUTSTANDING) - pU32(h, P_USER2) >= num;
  let p = poolAlloc(h);
  if (p == 0) return 0;
  let len = pU32(h, P_USER0);
  memory.fill(p, 0, packetSize(len));
  store<u32>(p + PK_POOL, <u32>h);
  store<u32>(p + PK_FLAGS, pU32(h, P_USER1) >>> 24 & 0x0F);
  store<u8>(p + PK_PACKET_FLAGS, PACKET_ALLOCATED_BY_NDIS);
  store<u16>(p + PK_OOB_OFFSET, <u16>oobOffset(len));
  lookup(p, K_PACKET);
  store<u32>(lookedUpAux(0), overflow ? 1 : 0);
  if (overflow) pSet(h, P_USER2, pU32(h, P_USER2) + 1);
  return p;
}

/** Checks a live packet (PKT-1: Private.Pool must still name its pool). Sets gPkPool. */
export let gPkPool: usize = 0;
export function packetCheck(p: usize, arg: u32): u32 {
  let e = lookup(p, K_PACKET);
  if (e != E_OK) return argErr(arg, e);
  gPkPool = lookedUpPool();
  if (<usize>load<u32>(p + PK_POOL) != gPkPool) { gErrPtr = p; gErrDetail = load<u32>(p + PK_POOL); return E_PKT1; }
  return E_OK;
}

/** NdisFreePacket: back to its pool (an overflow descriptor is destroyed: its count drops). */
export function packetFree(p: usize): u32 {
  let e = packetCheck(p, 0);
  if (e != E_OK) return e;
  lookup(p, K_PACKET);
  if (load<u32>(lookedUpAux(0)) != 0) pSet(gPkPool, P_USER2, pU32(gPkPool, P_USER2) - 1);
  freeLookedUp();
  return E_OK;
}

// ---------------------------------------------------------------------------------------------
// Buffers (NDIS_BUFFER = MDL)
// ---------------------------------------------------------------------------------------------

/** NdisAllocateBufferPool: a pool record (the descriptor count is not enforced, decision 17). */
export function bufferPoolCreate(num: u32): usize {
  let h = poolAlloc(root(ROOT_BUFFER_POOLS));
  if (h == 0) return 0;
  store<u32>(h, num); // NumberOfDescriptors, for reference
  return h;
}

/** NdisFreeBufferPool. */
export function bufferPoolFree(h: usize): u32 {
  let e = lookup(h, K_BUFFER_POOL);
  if (e != E_OK) return argErr(0, e);
  freeLookedUp();
  return E_OK;
}

/**
 * NdisAllocateBuffer: an MDL over [va, va + len) of live memory. Returns the MDL, 0 (no memory:
 * NDIS_STATUS_FAILURE), or an error (the pool handle, argument 2; the range: E_BAD_RANGE).
 */
export function bufferAllocate(h: usize, va: usize, len: u32): usize {
  if (h != 0) {
    let e = lookup(h, K_BUFFER_POOL);
    if (e != E_OK) return argErr(2, e);
  }
  if (rangeCheck(va, len) != E_OK) { gErrPtr = va; return E_BAD_RANGE; }
  let mdl = poolAlloc(root(ROOT_MDLS));
  if (mdl == 0) return 0;
  mdlInit(mdl, va, len, 0);
  lookup(mdl, K_MDL);
  store<u32>(lookedUpAux(0), <u32>h);
  store<u32>(lookedUpAux(1), 0);
  store<u32>(lookedUpAux(2), 0);
  store<u32>(lookedUpAux(MDL_AUX_PACKET), 0);
  return mdl;
}

/** NdisFreeBuffer: an MDL from NdisAllocateBuffer (or NdisAllocateMdl) not chained to a packet. */
export function bufferFree(b: usize): u32 {
  let e = lookup(b, K_MDL);
  if (e != E_OK) return argErr(0, e);
  let p = chainedTo(b);
  if (p != 0) { gErrPtr = b; gErrDetail = <u32>p; return E_BUF_CHAINED; }
  lookup(b, K_MDL);
  if (load<u32>(lookedUpAux(1)) != 0) { gErrPtr = b; return 58; /* E_ADV2: a retreat's MDL */ }
  freeLookedUp();
  return E_OK;
}

/**
 * Checks a buffer chain that is about to be chained to packet `p`: live MDLs, none already on a
 * live packet (this one included), no loop. Returns E_OK with its tail in gPkResult.
 */
function chainable(p: usize, b: usize): u32 {
  let m = b;
  let steps: u32 = 0;
  while (true) {
    let e = mdlCheck(m);
    if (e != E_OK) return argErr(1, e);
    if (lookup(m, K_MDL) == E_OK) {
      let q = chainedTo(m);
      if (q != 0) { gErrPtr = m; gErrDetail = <u32>q; return E_BUF_CHAINED; }
    }
    let next = <usize>load<u32>(m + MDL_NEXT);
    if (next == 0) break;
    if (next == b || ++steps > 0x100000) { gErrPtr = m; return 46; /* E_MDL_LOOP */ }
    m = next;
  }
  gPkResult = <u32>m;
  return E_OK;
}

/** Records that every buffer of the chain at `b` is chained to `p`. */
function markChain(p: usize, b: usize): void {
  let m = b;
  while (m != 0) {
    if (lookup(m, K_MDL) == E_OK) store<u32>(lookedUpAux(MDL_AUX_PACKET), <u32>p);
    m = <usize>load<u32>(m + MDL_NEXT);
  }
}

/** NdisChainBufferAtFront (the macro): `b` may itself be a chain. */
export function chainAtFront(p: usize, b: usize): u32 {
  let e = packetCheck(p, 0);
  if (e != E_OK) return e;
  e = chainable(p, b);
  if (e != E_OK) return e;
  let tail = <usize>gPkResult;
  let head = <usize>load<u32>(p + PK_HEAD);
  if (head == 0) store<u32>(p + PK_TAIL, <u32>tail);
  store<u32>(tail + MDL_NEXT, <u32>head);
  store<u32>(p + PK_HEAD, <u32>b);
  store<u8>(p + PK_VALID_COUNTS, 0);
  markChain(p, b);
  return E_OK;
}

/** NdisChainBufferAtBack (the macro). */
export function chainAtBack(p: usize, b: usize): u32 {
  let e = packetCheck(p, 0);
  if (e != E_OK) return e;
  e = chainable(p, b);
  if (e != E_OK) return e;
  let tail = <usize>gPkResult;
  let oldTail = <usize>load<u32>(p + PK_TAIL);
  if (oldTail != 0) store<u32>(oldTail + MDL_NEXT, <u32>b); else store<u32>(p + PK_HEAD, <u32>b);
  store<u32>(p + PK_TAIL, <u32>tail);
  store<u32>(tail + MDL_NEXT, 0);
  store<u8>(p + PK_VALID_COUNTS, 0);
  markChain(p, b);
  return E_OK;
}

/** Forgets that `b` is chained (it left its packet). */
function unmark(b: usize): void {
  if (lookup(b, K_MDL) == E_OK) store<u32>(lookedUpAux(MDL_AUX_PACKET), 0);
}

/** NdisUnchainBufferAtFront: returns the buffer (0 when the chain is empty) in gPkResult. */
export function unchainAtFront(p: usize): u32 {
  let e = packetCheck(p, 0);
  if (e != E_OK) return e;
  let b = <usize>load<u32>(p + PK_HEAD);
  gPkResult = <u32>b;
  if (b == 0) return E_OK;
  let next = <usize>load<u32>(b + MDL_NEXT);
  store<u32>(p + PK_HEAD, <u32>next);
  if (next == 0) store<u32>(p + PK_TAIL, 0);
  store<u32>(b + MDL_NEXT, 0);
  store<u8>(p + PK_VALID_COUNTS, 0);
  unmark(b);
  return E_OK;
}

/** NdisUnchainBufferAtBack: returns the buffer (0 when the chain is empty) in gPkResult. */
export function unchainAtBack(p: usize): u32 {
  let e = packetCheck(p, 0);
  if (e != E_OK) return e;
  let b = <usize>load<u32>(p + PK_TAIL);
  gPkResult = <u32>b;
  if (b == 0) return E_OK;
  let head = <usize>load<u32>(p + PK_HEAD);
  if (head == b) {
    store<u32>(p + PK_HEAD, 0);
    store<u32>(p + PK_TAIL, 0);
  } else {
    let m = head;
    let steps: u32 = 0;
    while (m != 0 && <usize>load<u32>(m + MDL_NEXT) != b && ++steps < 0x100000) m = <usize>load<u32>(m + MDL_NEXT);
    if (m == 0 || steps >= 0x100000) { gErrPtr = b; return 46; /* E_MDL_LOOP: Tail not on the chain */ }
    store<u32>(m + MDL_NEXT, 0);
    store<u32>(p + PK_TAIL, <u32>m);
  }
  store<u32>(b + MDL_NEXT, 0);
  store<u8>(p + PK_VALID_COUNTS, 0);
  unmark(b);
  return E_OK;
}

/** NdisReinitializePacket: Head = Tail = NULL, ValidCounts = FALSE (decision 15). */
export function packetReinitialize(p: usize): u32 {
  let e = packetCheck(p, 0);
  if (e != E_OK) return e;
  store<u32>(p + PK_HEAD, 0);
  store<u32>(p + PK_TAIL, 0);
  store<u8>(p + PK_VALID_COUNTS, 0);
  return E_OK;
}

// @ts-ignore: decorator
@inline function mdlVa(m: usize): usize {
  return (load<u16>(m + MDL_FLAGS) & MDL_MAPPED_TO_SYSTEM_VA) != 0
    ? <usize>load<u32>(m + MDL_MAPPED_SYSTEM_VA)
    : <usize>load<u32>(m + MDL_START_VA) + load<u32>(m + MDL_BYTE_OFFSET);
}

/**
 * NdisQueryPacket's recount: when ValidCounts is FALSE, walks the chain and caches
 * PhysicalCount (pages spanned, an empty buffer counting 1), Count and TotalLength, then sets
 * ValidCounts TRUE.
 */
export function packetQuery(p: usize): u32 {
  let e = packetCheck(p, 0);
  if (e != E_OK) return e;
  if (load<u8>(p + PK_VALID_COUNTS) != 0) return E_OK;
  let phys: u32 = 0, count: u32 = 0;
  let total: u64 = 0;
  let m = <usize>load<u32>(p + PK_HEAD);
  while (m != 0 && count < 0x100000) {
    let bc = load<u32>(m + MDL_BYTE_COUNT);
    phys += bc == 0 ? 1 : ((<u32>mdlVa(m) & PAGE_MASK) + bc + PAGE_MASK) >>> PAGE_SHIFT;
    total += bc;
    count++;
    m = <usize>load<u32>(m + MDL_NEXT);
  }
  if (m != 0) { gErrPtr = p; return 46; /* the chain loops */ }
  store<u32>(p + PK_PHYSICAL_COUNT, phys);
  store<u32>(p + PK_COUNT, count);
  store<u32>(p + PK_TOTAL_LENGTH, <u32>total);
  store<u8>(p + PK_VALID_COUNTS, 1);
  return E_OK;
}

/** Number of overflow descriptors in use (statistics). */
export function packetPoolOverflowInUse(h: usize): u32 {
  return lookup(h, K_PACKET_POOL) == E_OK ? pU32(h, P_USER2) : 0;
}

