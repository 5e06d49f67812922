// ndis-pool: descriptor rings (DPDK rte_ring style; NDIS-SPEC §9.5's TX/RX rings).
//
// A ring is one allocation of tagged memory ('Ring'). Its handle is the allocation's address;
// the header starts at the next 64-byte boundary:
//
//   +0    capacity       power of two
//   +4    mask           capacity - 1
//   +8    highWater      most descriptors ever held at once
//   +12   enqueued       u64 total descriptors enqueued
//   +20   dequeued       u64 total descriptors dequeued
//   +64   prod           free-running u32 producer index   (own 64-byte line)
//   +128  cons           free-running u32 consumer index   (own 64-byte line)
//   +192  descriptors[capacity], RING_DESC_SIZE bytes each:
//           0 address, 4 length, 8 flags, 12 status, 16 cookie
//
// count = prod - cons (u32 arithmetic, so the indices may wrap at 2^32); the slot of index i is
// i & mask. Producer and consumer indices sit on separate cache lines so that a later
// single-producer / single-consumer version across workers can update them with Atomics.

import { E_OK, E_WRONG_KIND, K_RING, TAG_RING } from "./layout";
import { lookup, freeLookedUp } from "./slab";
import { argErr, memAlloc } from "./netbuf";

// @ts-ignore: decorator
@inline export const RING_CAPACITY: u32 = 0;
// @ts-ignore: decorator
@inline export const RING_MASK: u32 = 4;
// @ts-ignore: decorator
@inline export const RING_HIGH_WATER: u32 = 8;
// @ts-ignore: decorator
@inline export const RING_ENQUEUED: u32 = 12;
// @ts-ignore: decorator
@inline export const RING_DEQUEUED: u32 = 20;
// @ts-ignore: decorator
@inline export const RING_PROD: u32 = 64;
// @ts-ignore: decorator
@inline export const RING_CONS: u32 = 128;
// @ts-ignore: decorator
@inline export const RING_DESCS: u32 = 192;
// @ts-ignore: decorator
@inline export const RING_DESC_SIZE: u32 = 20;
// @ts-ignore: decorator
@inline export const RING_DESC_WORDS: u32 = 5;
/** Returned by enqueue/dequeue for a handle that is not a live ring (counts are <= 2^20). */
// @ts-ignore: decorator
@inline export const RING_BAD_HANDLE: u32 = 0xFFFFFFFF;
/** Largest capacity (2^20 descriptors, 20 MiB). */
// @ts-ignore: decorator
@inline export const RING_MAX_CAPACITY: u32 = 1 << 20;

// @ts-ignore: decorator
@inline function base(h: usize): usize { return (h + 63) & ~<usize>63; }

/**
 * The memory of a ring (this one, or xring.ts's shared ring) of `capacity` descriptors behind a
 * `headerBytes` header: one 'Ring' allocation, the header at its next 64-byte boundary, zeroed.
 * Returns the handle (the allocation), or 0 for a capacity that is not a power of two in
 * [1, RING_MAX_CAPACITY] or when memory is exhausted.
 */
export function ringAlloc(capacity: u32, headerBytes: u32): usize {
  if (capacity == 0 || capacity > RING_MAX_CAPACITY || (capacity & (capacity - 1)) != 0) return 0;
  let h = memAlloc(K_RING, TAG_RING, 63 + headerBytes + capacity * RING_DESC_SIZE, 1, 0);
  if (h != 0) memory.fill(base(h), 0, headerBytes);
  return h;
}

/** Creates a ring of `capacity` (a power of two, checked by src/) descriptors. 0: no memory. */
export function ringCreate(capacity: u32): usize {
  let h = ringAlloc(capacity, RING_DESCS);
  if (h == 0) return 0;
  let b = base(h);
  store<u32>(b + RING_CAPACITY, capacity);
  store<u32>(b + RING_MASK, capacity - 1);
  return h;
}

/**
 * A live plain ring at `h`: a K_RING allocation whose first word is a capacity (a shared ring's
 * holds xring.ts's magic, far above RING_MAX_CAPACITY). Leaves the lookup in gSlab/gIdx.
 */
// @ts-ignore: decorator
@inline function plainRing(h: usize): u32 {
  let e = lookup(h, K_RING);
  if (e != E_OK) return e;
  return load<u32>(base(h) + RING_CAPACITY) <= RING_MAX_CAPACITY ? E_OK : E_WRONG_KIND;
}

/** Checks a live ring handle. */
export function ringCheck(h: usize): u32 {
  let e = plainRing(h);
  return e == E_OK ? E_OK : argErr(0, e);
}

/** Frees a ring (descriptors still in it are dropped: they are only numbers). */
export function ringDestroy(h: usize): u32 {
  let e = ringCheck(h);
  if (e != E_OK) return e;
  lookup(h, K_RING);
  freeLookedUp();
  return E_OK;
}

/** Header address of a live ring (for statistics reads from JS). */
export function ringBase(h: usize): usize {
  return ringCheck(h) == E_OK ? base(h) : 0;
}

/**
 * Enqueues up to `n` descriptors (RING_DESC_WORDS u32 each) from `src`. With `bulk`, all or
 * none. Returns how many were enqueued, or RING_BAD_HANDLE (nothing changed).
 */
export function ringEnqueue(h: usize, src: usize, n: u32, bulk: bool): u32 {
  if (plainRing(h) != E_OK) return RING_BAD_HANDLE;
  let b = base(h);
  let cap = load<u32>(b + RING_CAPACITY);
  let mask = load<u32>(b + RING_MASK);
  let prod = load<u32>(b + RING_PROD);
  let used = prod - load<u32>(b + RING_CONS);
  let room = cap - used;
  let k = n <= room ? n : (bulk ? 0 : room);
  if (k == 0) return 0;
  let descs = b + RING_DESCS;
  // Copy in at most two runs (the slot index wraps at capacity).
  let first = prod & mask;
  let run1 = min<u32>(k, cap - first);
  memory.copy(descs + <usize>first * RING_DESC_SIZE, src, <usize>run1 * RING_DESC_SIZE);
  if (run1 < k) memory.copy(descs, src + <usize>run1 * RING_DESC_SIZE, <usize>(k - run1) * RING_DESC_SIZE);
  store<u32>(b + RING_PROD, prod + k);
  used += k;
  if (used > load<u32>(b + RING_HIGH_WATER)) store<u32>(b + RING_HIGH_WATER, used);
  store<u64>(b + RING_ENQUEUED, load<u64>(b + RING_ENQUEUED) + k);
  return k;
}

/** Dequeues up to `n` descriptors into `out`. With `bulk`, all or none. Returns how many. */
export function ringDequeue(h: usize, out: usize, n: u32, bulk: bool): u32 {
  if (plainRing(h) != E_OK) return RING_BAD_HANDLE;
  let b = base(h);
  let cap = load<u32>(b + RING_CAPACITY);
  let mask = load<u32>(b + RING_MASK);
  let cons = load<u32>(b + RING_CONS);
  let avail = load<u32>(b + RING_PROD) - cons;
  let k = n <= avail ? n : (bulk ? 0 : avail);
  if (k == 0) return 0;
  let descs = b + RING_DESCS;
  let first = cons & mask;
  let run1 = min<u32>(k, cap - first);
  memory.copy(out, descs + <usize>first * RING_DESC_SIZE, <usize>run1 * RING_DESC_SIZE);
  if (run1 < k) memory.copy(out + <usize>run1 * RING_DESC_SIZE, descs, <usize>(k - run1) * RING_DESC_SIZE);
  store<u32>(b + RING_CONS, cons + k);
  store<u64>(b + RING_DEQUEUED, load<u64>(b + RING_DEQUEUED) + k);
  return k;
}

/** Benchmark limit: `rounds` bursts of `burst` enqueued then dequeued, all inside Wasm. */
export function ringBenchLoop(h: usize, buf: usize, rounds: u32, burst: u32): u32 {
  let moved: u32 = 0;
  for (let r: u32 = 0; r < rounds; r++) {
    moved += ringEnqueue(h, buf, burst, false);
    moved += ringDequeue(h, buf, burst, false);
  }
  return moved;
}
