// ndis-pool: cross-worker descriptor rings (issue 10; DPDK rte_ring across workers).
//
// A shared ring carries the descriptors of ring.ts (20 bytes: address, length, flags, status,
// cookie) between workers that run their own instances on one shared memory. It is one
// allocation of tagged memory ('Ring', kind K_RING, so poolmon counts it with the other rings);
// its handle is the allocation's address and the header starts at the next 64-byte boundary.
//
// Glossary (lib/ring/rte_ring_elem_pvt.h)
//   head   next index a side reserves: producers reserve free slots, consumers full ones
//   tail   every index before it is published: producers' tail = descriptors visible to
//          consumers, consumers' tail = slots free again for producers
//   MP/MC  several producers (consumers): a side reserves with a CAS on its head, copies, then
//          waits until its tail reaches the head it reserved from and stores the new tail, so
//          tails advance in reservation order
//   SP/SC  one producer (consumer): the head moves with a plain atomic store (nothing to CAS
//          against) and the tail never waits. Using an SP side from two workers at once is not
//          detected: it loses or duplicates descriptors
//
// Header (byte offsets from the 64-byte boundary; each index on its own line, so a side's
// reservations do not bounce the other side's line):
//
//   +0    flags       XR_MAGIC | XR_F_SP | XR_F_SC, read-only. A plain ring (ring.ts) has its
//                     capacity here (a power of two <= 2^20): the magic tells them apart in O(1)
//   +4    capacity    power of two
//   +8    mask        capacity - 1
//   +64   prod.head   u32, free-running
//   +128  prod.tail   u32, free-running (dequeueWait sleeps on this word)
//   +136  enqueued    u64 total \ written only by the producer that publishes, just before its
//                                / tail store: the tail order serialises the writers
//   +144  highWater   u32, atomic max of (prod.tail - cons.tail) read after each publish
//   +192  cons.head   u32, free-running
//   +256  cons.tail   u32, free-running (enqueueWait sleeps on this word)
//   +264  dequeued    u64 total, as `enqueued`
//   +320  consWaiters u32, consumers asleep on prod.tail (src/xring.ts dequeueWait/Async)
//   +324  prodWaiters u32, producers asleep on cons.tail (src/xring.ts enqueueWait)
//   +384  descriptors[capacity], RING_DESC_SIZE bytes each; index i lives in slot i & mask
//
// Invariants (u32 distances): cons.tail <= cons.head <= prod.tail <= prod.head <= cons.tail +
// capacity. Descriptors held = prod.tail - cons.tail. enqueued - dequeued == prod.tail - cons.tail
// whenever no call is in flight.
//
// Memory order: Wasm atomics are sequentially consistent. The descriptor copy is a plain
// memory.copy before the tail's atomic store; the other side's atomic load of that tail
// synchronises with it, so the copy is visible before the indices say it is there.
//
// Waiting: the enqueue path checks consWaiters with one atomic load after it publishes and
// notifies prod.tail only when a consumer sleeps (dequeue likewise with prodWaiters/cons.tail).
// Waiters register through `sharedRingWaiter` under the runtime lock, which validates the handle:
// a waiter never writes into a ring that another worker destroyed.

import { E_OK, E_WRONG_KIND, K_RING } from "./layout";
import { lookup, freeLookedUp } from "./slab";
import { argErr } from "./netbuf";
import { RING_DESC_SIZE, ringAlloc } from "./ring";

// @ts-ignore: decorator
@inline export const XR_FLAGS: u32 = 0;
// @ts-ignore: decorator
@inline export const XR_CAPACITY: u32 = 4;
// @ts-ignore: decorator
@inline export const XR_MASK: u32 = 8;
// @ts-ignore: decorator
@inline export const XR_PROD_HEAD: u32 = 64;
// @ts-ignore: decorator
@inline export const XR_PROD_TAIL: u32 = 128;
// @ts-ignore: decorator
@inline export const XR_ENQUEUED: u32 = 136;
// @ts-ignore: decorator
@inline export const XR_HIGH_WATER: u32 = 144;
// @ts-ignore: decorator
@inline export const XR_CONS_HEAD: u32 = 192;
// @ts-ignore: decorator
@inline export const XR_CONS_TAIL: u32 = 256;
// @ts-ignore: decorator
@inline export const XR_DEQUEUED: u32 = 264;
// @ts-ignore: decorator
@inline export const XR_CONS_WAITERS: u32 = 320;
// @ts-ignore: decorator
@inline export const XR_PROD_WAITERS: u32 = 324;
// @ts-ignore: decorator
@inline export const XR_DESCS: u32 = 384;

/** Flags word: magic in the high half ('XR'), mode bits in the low half. */
// @ts-ignore: decorator
@inline export const XR_MAGIC: u32 = 0x58520000;
// @ts-ignore: decorator
@inline export const XR_MAGIC_MASK: u32 = 0xFFFF0000;
/** Single producer (rte_ring RING_F_SP_ENQ). */
// @ts-ignore: decorator
@inline export const XR_F_SP: u32 = 1;
/** Single consumer (rte_ring RING_F_SC_DEQ). */
// @ts-ignore: decorator
@inline export const XR_F_SC: u32 = 2;
// @ts-ignore: decorator
@inline export const XR_F_ALL: u32 = XR_F_SP | XR_F_SC;
/** Returned by xrEnqueue/xrDequeue for a handle that is not a live shared ring. */
// @ts-ignore: decorator
@inline export const XR_BAD_HANDLE: u32 = 0xFFFFFFFF;
/** `sharedRingWaiter` sides. */
// @ts-ignore: decorator
@inline export const XR_SIDE_CONS: u32 = 0;
// @ts-ignore: decorator
@inline export const XR_SIDE_PROD: u32 = 1;

/** Spins on a tail before the first nap (MP/MC only, while an earlier reservation publishes). */
// @ts-ignore: decorator
@inline const TAIL_SPINS: u32 = 2048;
/** Length of one nap (ns): gives the CPU to a preempted worker whose publication we wait for. */
// @ts-ignore: decorator
@inline const TAIL_NAP_NS: i64 = 20000;

/** This instance may block in memory.atomic.wait (false on a browser's main thread). */
let gXrCanWait: bool = false;

// -- tiny accessors: atomics in the threads build, plain accesses in the single-threaded ones --

// @ts-ignore: decorator
@inline function ld(p: usize): u32 {
  if (ASC_FEATURE_THREADS) return atomic.load<u32>(p);
  return load<u32>(p);
}
// @ts-ignore: decorator
@inline function st(p: usize, v: u32): void {
  if (ASC_FEATURE_THREADS) atomic.store<u32>(p, v);
  else store<u32>(p, v);
}
/** Compare-and-swap; returns the value found (== `expected` on success). */
// @ts-ignore: decorator
@inline function cas(p: usize, expected: u32, v: u32): u32 {
  if (ASC_FEATURE_THREADS) return atomic.cmpxchg<u32>(p, expected, v);
  let old = load<u32>(p);
  if (old == expected) store<u32>(p, v);
  return old;
}
/** Adds `k` to a u64 total that only the current tail publisher writes (see the header). */
// @ts-ignore: decorator
@inline function bump64(p: usize, k: u32): void {
  if (ASC_FEATURE_THREADS) atomic.store<u64>(p, atomic.load<u64>(p) + k);
  else store<u64>(p, load<u64>(p) + k);
}
/** Wakes every agent asleep on `p`. */
// @ts-ignore: decorator
@inline function wake(p: usize): void {
  if (ASC_FEATURE_THREADS) atomic.notify(p, -1);
}

// @ts-ignore: decorator
@inline function base(h: usize): usize { return (h + 63) & ~<usize>63; }

/** Header address of `h` when it is a live shared ring, else 0. O(1). */
// @ts-ignore: decorator
@inline function live(h: usize): usize {
  if (lookup(h, K_RING) != E_OK) return 0;
  let b = base(h);
  return (load<u32>(b + XR_FLAGS) & XR_MAGIC_MASK) == XR_MAGIC ? b : 0;
}

// ---------------------------------------------------------------------------------------------
// Control path (runs under the runtime lock: names do not start with "xr")
// ---------------------------------------------------------------------------------------------

/**
 * Creates a shared ring of `capacity` descriptors (a power of two in [1, 2^20]) with mode
 * `flags` (XR_F_SP, XR_F_SC). Returns the handle, or 0 when memory is exhausted or an argument
 * is out of range (src/ checks them first).
 */
export function sharedRingCreate(capacity: u32, flags: u32): usize {
  if ((flags & ~XR_F_ALL) != 0) return 0;
  let h = ringAlloc(capacity, XR_DESCS);
  if (h == 0) return 0;
  let b = base(h);
  store<u32>(b + XR_CAPACITY, capacity);
  store<u32>(b + XR_MASK, capacity - 1);
  // Published last: until the magic is there, the hot path refuses the handle.
  st(b + XR_FLAGS, XR_MAGIC | flags);
  return h;
}

/** E_OK for a live shared ring; else the lookup's error, or E_WRONG_KIND for a plain ring. */
export function sharedRingCheck(h: usize): u32 {
  let e = lookup(h, K_RING);
  if (e != E_OK) return argErr(0, e);
  return (load<u32>(base(h) + XR_FLAGS) & XR_MAGIC_MASK) == XR_MAGIC ? E_OK : argErr(0, E_WRONG_KIND);
}

/**
 * Frees a shared ring. Its descriptors are dropped (they are only numbers). Workers asleep on it
 * are woken: the tails change first so that a waiter about to sleep does not, and their next
 * call finds the handle dead. No worker may be inside an enqueue or dequeue of it.
 */
export function sharedRingDestroy(h: usize): u32 {
  let e = sharedRingCheck(h);
  if (e != E_OK) return e;
  let b = base(h);
  st(b + XR_FLAGS, 0);
  st(b + XR_PROD_TAIL, ~ld(b + XR_PROD_TAIL));
  st(b + XR_CONS_TAIL, ~ld(b + XR_CONS_TAIL));
  wake(b + XR_PROD_TAIL);
  wake(b + XR_CONS_TAIL);
  lookup(h, K_RING);
  freeLookedUp();
  return E_OK;
}

/**
 * Registers (`delta` 1) or unregisters (`delta` -1) a waiter of `side` (XR_SIDE_CONS: asleep on
 * prod.tail; XR_SIDE_PROD: on cons.tail). Validates the handle first, under the lock that
 * `sharedRingDestroy` also holds. Returns E_OK or the handle's error.
 */
export function sharedRingWaiter(h: usize, side: u32, delta: i32): u32 {
  let e = sharedRingCheck(h);
  if (e != E_OK) return e;
  let p = base(h) + (side == XR_SIDE_PROD ? XR_PROD_WAITERS : XR_CONS_WAITERS);
  if (ASC_FEATURE_THREADS) atomic.add<u32>(p, <u32>delta);
  else store<u32>(p, load<u32>(p) + <u32>delta);
  return E_OK;
}

// ---------------------------------------------------------------------------------------------
// Data path (lock-free: names start with "xr"; any worker may call them at any time)
// ---------------------------------------------------------------------------------------------

/** Whether this instance may block in memory.atomic.wait (naps while waiting for a tail). */
export function xrSetCanWait(canWait: bool): void {
  gXrCanWait = canWait;
}

/** MP/MC: waits until `tail` reaches `old` (every earlier reservation of the side published). */
// @ts-ignore: decorator
@inline function waitTurn(tail: usize, old: u32): void {
  if (ld(tail) != old) waitTurnSlow(tail, old);
}

/** Spins, then naps now and then so that a preempted worker ahead of us can publish. */
function waitTurnSlow(tail: usize, old: u32): void {
  if (ASC_FEATURE_THREADS) {
    let spins: u32 = 0;
    let t: u32;
    while ((t = atomic.load<u32>(tail)) != old) {
      if (++spins >= TAIL_SPINS) {
        spins = 0;
        if (gXrCanWait) atomic.wait<i32>(tail, <i32>t, TAIL_NAP_NS);
      }
    }
  }
}

/** Raises the high-water mark to `used` if it is higher (atomic max; one load when it is not). */
// @ts-ignore: decorator
@inline function raiseHighWater(p: usize, used: u32): void {
  let hw = ld(p);
  while (used > hw) {
    let seen = cas(p, hw, used);
    if (seen == hw) break;
    hw = seen;
  }
}

/**
 * Enqueues up to `n` descriptors (RING_DESC_WORDS u32 each) from `src`. With `bulk`, all `n` or
 * none. Returns how many were enqueued (0: no room, or n == 0), or XR_BAD_HANDLE (nothing
 * changed) when `h` is not a live shared ring.
 */
export function xrEnqueue(h: usize, src: usize, n: u32, bulk: bool): u32 {
  let b = live(h);
  if (b == 0) return XR_BAD_HANDLE;
  let cap = load<u32>(b + XR_CAPACITY);
  let single = (load<u32>(b + XR_FLAGS) & XR_F_SP) != 0;
  // 1. Reserve [head, head + k): free slots run up to cons.tail + capacity.
  let head: u32;
  let k: u32;
  while (true) {
    head = ld(b + XR_PROD_HEAD);
    let free = cap + ld(b + XR_CONS_TAIL) - head; // > cap only when `head` is stale (CAS fails)
    k = n <= free ? n : (bulk ? 0 : free);
    if (k == 0) return 0;
    if (single) { st(b + XR_PROD_HEAD, head + k); break; }
    if (cas(b + XR_PROD_HEAD, head, head + k) == head) break;
  }
  // 2. Copy in, at most two runs (the slot index wraps at capacity).
  let mask = load<u32>(b + XR_MASK);
  let descs = b + XR_DESCS;
  let first = head & mask;
  let run1 = min<u32>(k, cap - first);
  memory.copy(descs + <usize>first * RING_DESC_SIZE, src, <usize>run1 * RING_DESC_SIZE);
  if (run1 < k) memory.copy(descs, src + <usize>run1 * RING_DESC_SIZE, <usize>(k - run1) * RING_DESC_SIZE);
  // 3. Publish in reservation order; the total rides on the tail store.
  if (!single) waitTurn(b + XR_PROD_TAIL, head);
  bump64(b + XR_ENQUEUED, k);
  st(b + XR_PROD_TAIL, head + k);
  // 4. Statistics and wake-ups after the descriptors are visible.
  let used = head + k - ld(b + XR_CONS_TAIL); // wraps above cap if consumers already passed us
  if (used <= cap) raiseHighWater(b + XR_HIGH_WATER, used);
  if (ld(b + XR_CONS_WAITERS) != 0) wake(b + XR_PROD_TAIL);
  return k;
}

/**
 * Dequeues up to `n` descriptors into `out`. With `bulk`, exactly `n` or none. Returns how many
 * were dequeued (0: too few held, or n == 0), or XR_BAD_HANDLE (nothing changed).
 */
export function xrDequeue(h: usize, out: usize, n: u32, bulk: bool): u32 {
  let b = live(h);
  if (b == 0) return XR_BAD_HANDLE;
  let single = (load<u32>(b + XR_FLAGS) & XR_F_SC) != 0;
  // 1. Reserve [head, head + k): descriptors run up to prod.tail.
  let head: u32;
  let k: u32;
  while (true) {
    head = ld(b + XR_CONS_HEAD);
    let avail = ld(b + XR_PROD_TAIL) - head;
    k = n <= avail ? n : (bulk ? 0 : avail);
    if (k == 0) return 0;
    if (single) { st(b + XR_CONS_HEAD, head + k); break; }
    if (cas(b + XR_CONS_HEAD, head, head + k) == head) break;
  }
  // 2. Copy out.
  let cap = load<u32>(b + XR_CAPACITY);
  let mask = load<u32>(b + XR_MASK);
  let descs = b + XR_DESCS;
  let first = head & mask;
  let run1 = min<u32>(k, cap - first);
  memory.copy(out, descs + <usize>first * RING_DESC_SIZE, <usize>run1 * RING_DESC_SIZE);
  if (run1 < k) memory.copy(out + <usize>run1 * RING_DESC_SIZE, descs, <usize>(k - run1) * RING_DESC_SIZE);
  // 3. Free the slots in reservation order.
  if (!single) waitTurn(b + XR_CONS_TAIL, head);
  bump64(b + XR_DEQUEUED, k);
  st(b + XR_CONS_TAIL, head + k);
  if (ld(b + XR_PROD_WAITERS) != 0) wake(b + XR_CONS_TAIL);
  return k;
}
