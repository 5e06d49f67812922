// Descriptor rings (assembly/ring.ts): creation and header layout, burst and bulk
// enqueue/dequeue, the two-run copy across the slot wrap, free-running u32 indices across 2^32,
// RING_BAD_HANDLE for destroyed and forged handles, and ringBenchLoop's count.
import { E_OK, K_RING } from "../layout";
import { init, resetAll, slabPoolCreate } from "../index";
import { heapReserve } from "../pages";
import { lookup, lookedUpSize, poolAlloc } from "../slab";
import {
  ringCreate, ringCheck, ringDestroy, ringBase, ringEnqueue, ringDequeue, ringBenchLoop,
  RING_CAPACITY, RING_MASK, RING_HIGH_WATER, RING_ENQUEUED, RING_DEQUEUED, RING_PROD, RING_CONS,
  RING_DESCS, RING_DESC_SIZE, RING_DESC_WORDS, RING_BAD_HANDLE, RING_MAX_CAPACITY,
} from "../ring";

const ROOT_ADDR = init(1024);

// Scratch descriptor arrays (outside the page source: they survive resetAll).
const MAXD: u32 = 64;
const SRC = heapReserve(<usize>MAXD * RING_DESC_SIZE);
const OUT = heapReserve(<usize>MAXD * RING_DESC_SIZE);

/** Word `w` of descriptor id `id`. */
function word(id: u32, w: u32): u32 {
  return (id * 0x9E3779B1) ^ (w * 0x01010101) ^ (w == 4 ? 0x80000000 : 0);
}
/** Writes descriptors first..first+n-1 to `buf`. */
function fillDescs(buf: usize, first: u32, n: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    for (let w: u32 = 0; w < RING_DESC_WORDS; w++) store<u32>(buf + <usize>i * RING_DESC_SIZE + (w << 2), word(first + i, w));
  }
}
/** Number of descriptors of `buf` (n of them) that differ from first..first+n-1. */
function mismatches(buf: usize, first: u32, n: u32): u32 {
  let bad: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    for (let w: u32 = 0; w < RING_DESC_WORDS; w++) {
      if (load<u32>(buf + <usize>i * RING_DESC_SIZE + (w << 2)) != word(first + i, w)) { bad++; break; }
    }
  }
  return bad;
}
/** True when slot `slot` of the ring at header `b` holds descriptor `id`. */
function slotHolds(b: usize, slot: u32, id: u32): bool {
  return mismatches(b + RING_DESCS + <usize>slot * RING_DESC_SIZE, id, 1) == 0;
}
function hdr(h: usize, off: u32): u32 { return load<u32>(ringBase(h) + off); }
function hdr64(h: usize, off: u32): u64 { return load<u64>(ringBase(h) + off); }
function count(h: usize): u32 { return hdr(h, RING_PROD) - hdr(h, RING_CONS); }

let h: usize = 0;

describe("setup", () => {
  it("init and scratch arrays", () => {
    expect<usize>(ROOT_ADDR).toBeGreaterThan(0);
    expect<usize>(SRC).toBeGreaterThan(0);
    expect<usize>(OUT).toBeGreaterThan(0);
  });
});

describe("ringCreate", () => {
  beforeAll(() => { resetAll(); });

  it("returns 0 for capacities that are 0, not powers of two, or over 2^20", () => {
    expect<usize>(ringCreate(0)).toBe(0);
    expect<usize>(ringCreate(3)).toBe(0);
    expect<usize>(ringCreate(6)).toBe(0);
    expect<usize>(ringCreate(12)).toBe(0);
    expect<usize>(ringCreate(1000)).toBe(0);
    expect<usize>(ringCreate(RING_MAX_CAPACITY + 1)).toBe(0);
    expect<usize>(ringCreate(RING_MAX_CAPACITY << 1)).toBe(0);
    expect<usize>(ringCreate(0x80000000)).toBe(0);
    expect<usize>(ringCreate(0xFFFFFFFF)).toBe(0);
  });

  it("creates rings for every power of two up to 2^20, each big enough for its descriptors", () => {
    for (let k: u32 = 0; k <= 20; k++) {
      let cap: u32 = 1 << k;
      let r = ringCreate(cap);
      expect<usize>(r).toBeGreaterThan(0);
      expect<u32>(ringCheck(r)).toBe(E_OK);
      let b = ringBase(r);
      expect<usize>(b & 63).toBe(0);
      expect<usize>(b).toBeGreaterThanOrEqual(r);
      expect<usize>(b - r).toBeLessThan(64);
      expect<u32>(lookup(r, K_RING)).toBe(E_OK);
      // The allocation covers the aligned header and every descriptor.
      expect<usize>(<usize>lookedUpSize()).toBeGreaterThanOrEqual((b - r) + RING_DESCS + <usize>cap * RING_DESC_SIZE);
      expect<u32>(ringDestroy(r)).toBe(E_OK);
    }
  });

  it("initialises the header: capacity, mask, zero counters and indices", () => {
    h = ringCreate(8);
    expect<usize>(h).toBeGreaterThan(0);
    expect<usize>(ringBase(h)).toBe((h + 63) & ~<usize>63);
    expect<u32>(hdr(h, RING_CAPACITY)).toBe(8);
    expect<u32>(hdr(h, RING_MASK)).toBe(7);
    expect<u32>(hdr(h, RING_HIGH_WATER)).toBe(0);
    expect<u64>(hdr64(h, RING_ENQUEUED)).toBe(0);
    expect<u64>(hdr64(h, RING_DEQUEUED)).toBe(0);
    expect<u32>(hdr(h, RING_PROD)).toBe(0);
    expect<u32>(hdr(h, RING_CONS)).toBe(0);
  });

  it("a ring created on reused memory starts clean", () => {
    fillDescs(SRC, 1, 5);
    expect<u32>(ringEnqueue(h, SRC, 5, false)).toBe(5);
    expect<u32>(ringDestroy(h)).toBe(E_OK);
    let g = ringCreate(8);
    expect<usize>(g).toBe(h); // the slot is reused
    expect<u32>(hdr(g, RING_PROD)).toBe(0);
    expect<u32>(hdr(g, RING_CONS)).toBe(0);
    expect<u32>(hdr(g, RING_HIGH_WATER)).toBe(0);
    expect<u64>(hdr64(g, RING_ENQUEUED)).toBe(0);
    h = g;
  });
});

describe("header layout", () => {
  it("puts prod at 64 and cons at 128: separate 64-byte lines, away from the counters", () => {
    expect<u32>(RING_PROD).toBe(64);
    expect<u32>(RING_CONS).toBe(128);
    expect<u32>(RING_DESCS).toBe(192);
    expect<u32>(RING_PROD >> 6).not.toBe(RING_CONS >> 6);
    expect<u32>(RING_PROD >> 6).not.toBe((RING_DEQUEUED + 7) >> 6);
    expect<u32>(RING_CONS >> 6).not.toBe(RING_DESCS >> 6);
    expect<u32>(RING_DESC_SIZE).toBe(RING_DESC_WORDS * 4);
    expect<u32>(RING_DESC_WORDS).toBe(5);
    expect<u32>(RING_ENQUEUED).toBe(12);
    expect<u32>(RING_DEQUEUED).toBe(20);
  });

  it("an enqueue moves only prod; a dequeue moves only cons", () => {
    fillDescs(SRC, 10, 3);
    expect<u32>(ringEnqueue(h, SRC, 3, false)).toBe(3);
    expect<u32>(hdr(h, RING_PROD)).toBe(3);
    expect<u32>(hdr(h, RING_CONS)).toBe(0);
    expect<u32>(ringDequeue(h, OUT, 2, false)).toBe(2);
    expect<u32>(hdr(h, RING_PROD)).toBe(3);
    expect<u32>(hdr(h, RING_CONS)).toBe(2);
    expect<u32>(mismatches(OUT, 10, 2)).toBe(0);
    expect<u32>(ringDequeue(h, OUT, 1, false)).toBe(1);
  });
});

describe("ringEnqueue / ringDequeue", () => {
  beforeAll(() => { resetAll(); h = ringCreate(8); });

  it("burst: enqueues as many as fit and dequeues as many as are held, FIFO, all 5 words", () => {
    fillDescs(SRC, 100, 6);
    expect<u32>(ringEnqueue(h, SRC, 6, false)).toBe(6);
    fillDescs(SRC, 106, 5);
    expect<u32>(ringEnqueue(h, SRC, 5, false)).toBe(2); // 2 free
    expect<u32>(count(h)).toBe(8);
    expect<u32>(ringEnqueue(h, SRC, 1, false)).toBe(0); // full
    expect<u32>(hdr(h, RING_HIGH_WATER)).toBe(8);
    expect<u32>(ringDequeue(h, OUT, 3, false)).toBe(3);
    expect<u32>(mismatches(OUT, 100, 3)).toBe(0);
    expect<u32>(ringDequeue(h, OUT, 20, false)).toBe(5);
    expect<u32>(mismatches(OUT, 103, 5)).toBe(0);
    expect<u32>(ringDequeue(h, OUT, 1, false)).toBe(0); // empty
    expect<u64>(hdr64(h, RING_ENQUEUED)).toBe(8);
    expect<u64>(hdr64(h, RING_DEQUEUED)).toBe(8);
  });

  it("bulk: all or nothing (header and out unchanged on refusal)", () => {
    fillDescs(SRC, 200, 9);
    expect<u32>(ringEnqueue(h, SRC, 9, true)).toBe(0);
    expect<u32>(count(h)).toBe(0);
    expect<u64>(hdr64(h, RING_ENQUEUED)).toBe(8);
    expect<u32>(ringEnqueue(h, SRC, 5, true)).toBe(5);
    expect<u32>(ringEnqueue(h, SRC, 4, true)).toBe(0);
    let prod = hdr(h, RING_PROD);
    let cons = hdr(h, RING_CONS);
    fillDescs(OUT, 999, 6);
    expect<u32>(ringDequeue(h, OUT, 6, true)).toBe(0);
    expect<u32>(mismatches(OUT, 999, 6)).toBe(0); // untouched
    expect<u32>(hdr(h, RING_PROD)).toBe(prod);
    expect<u32>(hdr(h, RING_CONS)).toBe(cons);
    expect<u64>(hdr64(h, RING_DEQUEUED)).toBe(8);
    expect<u32>(ringDequeue(h, OUT, 5, true)).toBe(5);
    expect<u32>(mismatches(OUT, 200, 5)).toBe(0);
  });

  it("n = 0 moves nothing", () => {
    let prod = hdr(h, RING_PROD);
    expect<u32>(ringEnqueue(h, SRC, 0, false)).toBe(0);
    expect<u32>(ringEnqueue(h, SRC, 0, true)).toBe(0);
    expect<u32>(ringDequeue(h, OUT, 0, false)).toBe(0);
    expect<u32>(hdr(h, RING_PROD)).toBe(prod);
    expect<u32>(count(h)).toBe(0);
  });

  it("copies in two runs across the slot wrap at capacity", () => {
    // Indices now at 13 (slot 5 of 8): 6 descriptors go to slots 5, 6, 7, 0, 1, 2.
    expect<u32>(hdr(h, RING_PROD) & 7).toBe(5);
    let b = ringBase(h);
    // Poison every slot first.
    memory.fill(b + RING_DESCS, 0xEE, 8 * RING_DESC_SIZE);
    fillDescs(SRC, 300, 6);
    expect<u32>(ringEnqueue(h, SRC, 6, false)).toBe(6);
    expect<bool>(slotHolds(b, 5, 300)).toBe(true);
    expect<bool>(slotHolds(b, 7, 302)).toBe(true);
    expect<bool>(slotHolds(b, 0, 303)).toBe(true);
    expect<bool>(slotHolds(b, 2, 305)).toBe(true);
    // Slots 3 and 4 were not written.
    expect<u32>(load<u32>(b + RING_DESCS + 3 * RING_DESC_SIZE)).toBe(0xEEEEEEEE);
    expect<u32>(load<u32>(b + RING_DESCS + 5 * RING_DESC_SIZE - 4)).toBe(0xEEEEEEEE);
    // Dequeue in two runs back into one contiguous array.
    fillDescs(OUT, 999, 8);
    expect<u32>(ringDequeue(h, OUT, 6, true)).toBe(6);
    expect<u32>(mismatches(OUT, 300, 6)).toBe(0);
    expect<u32>(mismatches(OUT + 6 * RING_DESC_SIZE, 999 + 6, 2)).toBe(0); // past the end: untouched
  });

  it("free-running u32 indices wrap at 2^32 (count = prod - cons)", () => {
    let b = ringBase(h);
    store<u32>(b + RING_PROD, 0xFFFFFFFD);
    store<u32>(b + RING_CONS, 0xFFFFFFFD);
    fillDescs(SRC, 400, 8);
    expect<u32>(ringEnqueue(h, SRC, 8, true)).toBe(8); // slots 5..7 then 0..4
    expect<u32>(hdr(h, RING_PROD)).toBe(5);
    expect<u32>(count(h)).toBe(8);
    expect<u32>(ringEnqueue(h, SRC, 1, false)).toBe(0); // full across the wrap
    expect<u32>(ringDequeue(h, OUT, 3, false)).toBe(3);
    expect<u32>(hdr(h, RING_CONS)).toBe(0);
    expect<u32>(mismatches(OUT, 400, 3)).toBe(0);
    expect<u32>(count(h)).toBe(5);
    fillDescs(SRC, 408, 3);
    expect<u32>(ringEnqueue(h, SRC, 10, false)).toBe(3);
    expect<u32>(ringDequeue(h, OUT, 9, true)).toBe(0);
    expect<u32>(ringDequeue(h, OUT, 9, false)).toBe(8);
    expect<u32>(mismatches(OUT, 403, 8)).toBe(0);
    expect<u32>(count(h)).toBe(0);
  });

  it("the u64 totals carry past 2^32", () => {
    let b = ringBase(h);
    store<u64>(b + RING_ENQUEUED, 0xFFFFFFFF);
    fillDescs(SRC, 1, 2);
    expect<u32>(ringEnqueue(h, SRC, 2, false)).toBe(2);
    expect<u64>(hdr64(h, RING_ENQUEUED)).toBe(0x100000001);
    expect<u32>(ringDequeue(h, OUT, 2, false)).toBe(2);
  });

  it("a capacity-1 ring (mask 0)", () => {
    let one = ringCreate(1);
    expect<u32>(hdr(one, RING_MASK)).toBe(0);
    for (let i: u32 = 0; i < 5; i++) {
      fillDescs(SRC, 50 + i, 2);
      expect<u32>(ringEnqueue(one, SRC, 2, false)).toBe(1);
      expect<u32>(ringEnqueue(one, SRC, 1, true)).toBe(0);
      expect<u32>(ringDequeue(one, OUT, 2, false)).toBe(1);
      expect<u32>(mismatches(OUT, 50 + i, 1)).toBe(0);
    }
    expect<u32>(hdr(one, RING_HIGH_WATER)).toBe(1);
    expect<u32>(ringDestroy(one)).toBe(E_OK);
  });
});

describe("RING_BAD_HANDLE", () => {
  beforeAll(() => { resetAll(); });

  it("is 0xFFFFFFFF", () => {
    expect<u32>(RING_BAD_HANDLE).toBe(0xFFFFFFFF);
  });

  it("for a destroyed ring (and ringCheck / ringBase / ringDestroy refuse it)", () => {
    let r = ringCreate(8);
    expect<u32>(ringDestroy(r)).toBe(E_OK);
    fillDescs(SRC, 1, 1);
    expect<u32>(ringEnqueue(r, SRC, 1, false)).toBe(RING_BAD_HANDLE);
    expect<u32>(ringEnqueue(r, SRC, 1, true)).toBe(RING_BAD_HANDLE);
    expect<u32>(ringDequeue(r, OUT, 1, false)).toBe(RING_BAD_HANDLE);
    expect<u32>(ringDequeue(r, OUT, 1, true)).toBe(RING_BAD_HANDLE);
    expect<u32>(ringBenchLoop(r, SRC, 1, 1)).not.toBe(2);
    expect<u32>(ringCheck(r)).not.toBe(E_OK);
    expect<usize>(ringBase(r)).toBe(0);
    expect<u32>(ringDestroy(r)).not.toBe(E_OK);
  });

  it("for forged handles: inside a ring, NULL, unowned memory, another kind of object", () => {
    let r = ringCreate(8);
    fillDescs(SRC, 1, 3);
    expect<u32>(ringEnqueue(r, SRC, 3, false)).toBe(3);
    let b = ringBase(r);
    let prod = load<u32>(b + RING_PROD);
    let pool = slabPoolCreate(64, 0x676e6952, 0xFFFFFFFF);
    let obj = poolAlloc(pool);
    expect<usize>(obj).toBeGreaterThan(0);
    let forged: usize[] = [r + 4, r + 8, r + 64, b + RING_DESCS, 0, 12345, SRC, obj, pool];
    for (let i = 0; i < forged.length; i++) {
      let f = forged[i];
      expect<u32>(ringEnqueue(f, SRC, 1, false)).toBe(RING_BAD_HANDLE);
      expect<u32>(ringDequeue(f, OUT, 1, false)).toBe(RING_BAD_HANDLE);
      expect<u32>(ringCheck(f)).not.toBe(E_OK);
      expect<usize>(ringBase(f)).toBe(0);
      expect<u32>(ringDestroy(f)).not.toBe(E_OK);
    }
    // The real ring is untouched.
    expect<u32>(load<u32>(b + RING_PROD)).toBe(prod);
    expect<u32>(ringCheck(r)).toBe(E_OK);
    expect<u32>(ringDequeue(r, OUT, 3, true)).toBe(3);
    expect<u32>(mismatches(OUT, 1, 3)).toBe(0);
  });

  it("after resetAll", () => {
    let r = ringCreate(4);
    resetAll();
    expect<u32>(ringEnqueue(r, SRC, 1, false)).toBe(RING_BAD_HANDLE);
    expect<u32>(ringCheck(r)).not.toBe(E_OK);
  });
});

describe("ringBenchLoop", () => {
  beforeAll(() => { resetAll(); });

  it("moves 2 x rounds x burst descriptors when the burst fits", () => {
    let r = ringCreate(32);
    fillDescs(SRC, 7, 32);
    expect<u32>(ringBenchLoop(r, SRC, 100, 32)).toBe(2 * 100 * 32);
    expect<u32>(ringBenchLoop(r, SRC, 1000, 5)).toBe(2 * 1000 * 5);
    expect<u32>(count(r)).toBe(0);
    expect<u64>(hdr64(r, RING_ENQUEUED)).toBe(100 * 32 + 1000 * 5);
    expect<u64>(hdr64(r, RING_DEQUEUED)).toBe(100 * 32 + 1000 * 5);
    expect<u32>(hdr(r, RING_HIGH_WATER)).toBe(32);
    // Each round dequeues what it enqueued, so the buffer still holds descriptors 7.. in order.
    expect<u32>(mismatches(SRC, 7, 5)).toBe(0);
    expect<u32>(ringBenchLoop(r, SRC, 0, 8)).toBe(0);
    expect<u32>(ringDestroy(r)).toBe(E_OK);
  });

  it("moves 2 x rounds x capacity when the burst is larger than the ring", () => {
    let r = ringCreate(4);
    expect<u32>(ringBenchLoop(r, SRC, 10, 16)).toBe(2 * 10 * 4);
    expect<u32>(count(r)).toBe(0);
    expect<u32>(ringDestroy(r)).toBe(E_OK);
  });
});
