// Cross-worker descriptor rings (assembly/xring.ts), one thread (as-pect builds without the
// threads feature, so this covers the plain-access path; test/xring.test.ts covers the atomics
// build and several workers): creation and header layout, flags and the magic that tells shared
// from plain rings, SP/SC and MP/MC enqueue/dequeue (bulk and burst), the two-run copy across
// the slot wrap, free-running u32 indices across 2^32, the counters, XR_BAD_HANDLE for destroyed,
// forged and plain-ring handles, waiter registration, and destroy.
import { E_OK, E_WRONG_KIND, E_NOT_ALLOCATED, K_RING, ARG_SHIFT } from "../layout";
import { init, resetAll } from "../index";
import { heapReserve } from "../pages";
import { lookup, lookedUpSize } from "../slab";
import { ringCreate, ringDestroy, ringEnqueue, RING_DESC_SIZE, RING_DESC_WORDS, RING_MAX_CAPACITY } from "../ring";
import {
  sharedRingCreate, sharedRingCheck, sharedRingDestroy, sharedRingWaiter, xrEnqueue, xrDequeue, xrSetCanWait,
  XR_FLAGS, XR_CAPACITY, XR_MASK, XR_PROD_HEAD, XR_PROD_TAIL, XR_ENQUEUED, XR_HIGH_WATER, XR_CONS_HEAD,
  XR_CONS_TAIL, XR_DEQUEUED, XR_CONS_WAITERS, XR_PROD_WAITERS, XR_DESCS, XR_MAGIC, XR_MAGIC_MASK, XR_F_SP, XR_F_SC,
  XR_BAD_HANDLE, XR_SIDE_CONS, XR_SIDE_PROD,
} from "../xring";

const ROOT_ADDR = init(1024);
const MAXD: u32 = 64;
const SRC = heapReserve(<usize>MAXD * RING_DESC_SIZE);
const OUT = heapReserve(<usize>MAXD * RING_DESC_SIZE);

function word(id: u32, w: u32): u32 {
  return (id * 0x9E3779B1) ^ (w * 0x01010101) ^ (w == 4 ? 0x80000000 : 0);
}
function fillDescs(buf: usize, first: u32, n: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    for (let w: u32 = 0; w < RING_DESC_WORDS; w++) store<u32>(buf + <usize>i * RING_DESC_SIZE + (w << 2), word(first + i, w));
  }
}
function mismatches(buf: usize, first: u32, n: u32): u32 {
  let bad: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    for (let w: u32 = 0; w < RING_DESC_WORDS; w++) {
      if (load<u32>(buf + <usize>i * RING_DESC_SIZE + (w << 2)) != word(first + i, w)) { bad++; break; }
    }
  }
  return bad;
}
function base(h: usize): usize { return (h + 63) & ~<usize>63; }
function hdr(h: usize, off: u32): u32 { return load<u32>(base(h) + off); }
function hdr64(h: usize, off: u32): u64 { return load<u64>(base(h) + off); }
function setIndices(h: usize, v: u32): void {
  store<u32>(base(h) + XR_PROD_HEAD, v);
  store<u32>(base(h) + XR_PROD_TAIL, v);
  store<u32>(base(h) + XR_CONS_HEAD, v);
  store<u32>(base(h) + XR_CONS_TAIL, v);
}
function count(h: usize): u32 { return hdr(h, XR_PROD_TAIL) - hdr(h, XR_CONS_TAIL); }
/** Heads equal tails (no call in flight) on both sides. */
function settled(h: usize): bool {
  return hdr(h, XR_PROD_HEAD) == hdr(h, XR_PROD_TAIL) && hdr(h, XR_CONS_HEAD) == hdr(h, XR_CONS_TAIL);
}

describe("setup", () => {
  it("init and scratch arrays", () => {
    expect<usize>(ROOT_ADDR).toBeGreaterThan(0);
    expect<usize>(SRC).toBeGreaterThan(0);
    expect<usize>(OUT).toBeGreaterThan(0);
    xrSetCanWait(false);
  });
});

describe("header layout", () => {
  it("each index on its own 64-byte line, descriptors after them", () => {
    expect<u32>(XR_PROD_HEAD & 63).toBe(0);
    expect<u32>(XR_PROD_TAIL & 63).toBe(0);
    expect<u32>(XR_CONS_HEAD & 63).toBe(0);
    expect<u32>(XR_CONS_TAIL & 63).toBe(0);
    expect<u32>(XR_DESCS & 63).toBe(0);
    let lines: u32[] = [XR_FLAGS >> 6, XR_PROD_HEAD >> 6, XR_PROD_TAIL >> 6, XR_CONS_HEAD >> 6, XR_CONS_TAIL >> 6, XR_CONS_WAITERS >> 6, XR_DESCS >> 6];
    for (let i = 0; i < lines.length; i++) for (let j = i + 1; j < lines.length; j++) expect<u32>(lines[i]).not.toBe(lines[j]);
    // The counters ride on their side's tail line; the waiters share one line.
    expect<u32>(XR_ENQUEUED >> 6).toBe(XR_PROD_TAIL >> 6);
    expect<u32>(XR_HIGH_WATER >> 6).toBe(XR_PROD_TAIL >> 6);
    expect<u32>(XR_DEQUEUED >> 6).toBe(XR_CONS_TAIL >> 6);
    expect<u32>(XR_PROD_WAITERS >> 6).toBe(XR_CONS_WAITERS >> 6);
    expect<u32>(XR_ENQUEUED & 7).toBe(0);
    expect<u32>(XR_DEQUEUED & 7).toBe(0);
    // The magic can never be a plain ring's capacity (a power of two <= 2^20).
    expect<u32>(XR_MAGIC & ~XR_MAGIC_MASK).toBe(0);
    expect<bool>((XR_MAGIC & XR_MAGIC_MASK) > RING_MAX_CAPACITY).toBe(true);
  });
});

describe("sharedRingCreate / sharedRingCheck / sharedRingDestroy", () => {
  beforeAll(() => { resetAll(); });

  it("returns 0 for bad capacities and unknown flags", () => {
    expect<usize>(sharedRingCreate(0, 0)).toBe(0);
    expect<usize>(sharedRingCreate(3, 0)).toBe(0);
    expect<usize>(sharedRingCreate(1000, 0)).toBe(0);
    expect<usize>(sharedRingCreate(RING_MAX_CAPACITY << 1, 0)).toBe(0);
    expect<usize>(sharedRingCreate(0xFFFFFFFF, 0)).toBe(0);
    expect<usize>(sharedRingCreate(8, 4)).toBe(0);
    expect<usize>(sharedRingCreate(8, 0x80000000)).toBe(0);
  });

  it("creates rings of every power of two to 2^20 and every mode, header initialised", () => {
    for (let k: u32 = 0; k <= 20; k++) {
      let cap: u32 = 1 << k;
      let flags = k & 3;
      let h = sharedRingCreate(cap, flags);
      expect<usize>(h).toBeGreaterThan(0);
      expect<u32>(sharedRingCheck(h)).toBe(E_OK);
      expect<u32>(hdr(h, XR_FLAGS)).toBe(XR_MAGIC | flags);
      expect<u32>(hdr(h, XR_CAPACITY)).toBe(cap);
      expect<u32>(hdr(h, XR_MASK)).toBe(cap - 1);
      expect<u32>(hdr(h, XR_PROD_HEAD) | hdr(h, XR_PROD_TAIL) | hdr(h, XR_CONS_HEAD) | hdr(h, XR_CONS_TAIL)).toBe(0);
      expect<u32>(hdr(h, XR_HIGH_WATER) | hdr(h, XR_CONS_WAITERS) | hdr(h, XR_PROD_WAITERS)).toBe(0);
      expect<u32>(lookup(h, K_RING)).toBe(E_OK);
      expect<usize>(<usize>lookedUpSize()).toBeGreaterThanOrEqual((base(h) - h) + XR_DESCS + <usize>cap * RING_DESC_SIZE);
      expect<u32>(sharedRingDestroy(h)).toBe(E_OK);
      // Not allocated (E_NOT_ALLOCATED), or not ours once a large ring's own slab went back.
      expect<u32>(sharedRingCheck(h)).not.toBe(E_OK);
      expect<u32>(sharedRingDestroy(h)).not.toBe(E_OK);
      expect<u32>(xrEnqueue(h, SRC, 1, false)).toBe(XR_BAD_HANDLE);
    }
  });

  it("a plain ring is not a shared ring, and a shared ring's memory reused by a plain ring is refused", () => {
    let p = ringCreate(8);
    expect<u32>(sharedRingCheck(p)).toBe(E_WRONG_KIND);
    expect<u32>(xrEnqueue(p, SRC, 1, false)).toBe(XR_BAD_HANDLE);
    expect<u32>(xrDequeue(p, OUT, 1, false)).toBe(XR_BAD_HANDLE);
    expect<u32>(sharedRingDestroy(p)).toBe(E_WRONG_KIND);
    expect<u32>(sharedRingWaiter(p, XR_SIDE_CONS, 1)).toBe(E_WRONG_KIND);
    expect<u32>(ringDestroy(p)).toBe(E_OK);
    let h = sharedRingCreate(8, 0);
    expect<u32>(sharedRingDestroy(h)).toBe(E_OK);
    let q = ringCreate(16); // 575 bytes: the size class of an 8-slot shared ring (607)
    expect<usize>(q).toBe(h); // same slot
    expect<u32>(xrEnqueue(h, SRC, 1, false)).toBe(XR_BAD_HANDLE);
    expect<u32>(ringDestroy(q)).toBe(E_OK);
    expect<u32>(E_WRONG_KIND >> ARG_SHIFT).toBe(0); // argument 0
  });

  it("destroyed, forged and null handles are XR_BAD_HANDLE and change nothing", () => {
    let h = sharedRingCreate(8, 0);
    fillDescs(SRC, 1, 2);
    expect<u32>(xrEnqueue(h, SRC, 2, false)).toBe(2);
    expect<u32>(xrEnqueue(h + 8, SRC, 1, false)).toBe(XR_BAD_HANDLE);
    expect<u32>(xrEnqueue(h + 64, SRC, 1, false)).toBe(XR_BAD_HANDLE);
    expect<u32>(xrDequeue(0, OUT, 1, false)).toBe(XR_BAD_HANDLE);
    expect<u32>(xrDequeue(12345, OUT, 1, false)).toBe(XR_BAD_HANDLE);
    expect<u32>(count(h)).toBe(2);
    expect<u32>(sharedRingDestroy(h)).toBe(E_OK);
    expect<u32>(xrEnqueue(h, SRC, 1, false)).toBe(XR_BAD_HANDLE);
    expect<u32>(xrDequeue(h, OUT, 1, true)).toBe(XR_BAD_HANDLE);
  });

  it("a new ring on reused memory starts clean", () => {
    let h = sharedRingCreate(8, XR_F_SP);
    fillDescs(SRC, 1, 5);
    expect<u32>(xrEnqueue(h, SRC, 5, false)).toBe(5);
    expect<u32>(sharedRingDestroy(h)).toBe(E_OK);
    let g = sharedRingCreate(8, 0);
    expect<usize>(g).toBe(h);
    expect<u32>(hdr(g, XR_FLAGS)).toBe(XR_MAGIC);
    expect<u32>(hdr(g, XR_PROD_TAIL)).toBe(0);
    expect<u64>(hdr64(g, XR_ENQUEUED)).toBe(0);
    expect<u32>(hdr(g, XR_HIGH_WATER)).toBe(0);
  });
});

describe("xrEnqueue / xrDequeue in every mode", () => {
  beforeAll(() => { resetAll(); });

  it("burst: as many as fit / are held, FIFO, all five words, counters", () => {
    for (let flags: u32 = 0; flags < 4; flags++) {
      let h = sharedRingCreate(8, flags);
      fillDescs(SRC, 100, 6);
      expect<u32>(xrEnqueue(h, SRC, 6, false)).toBe(6);
      fillDescs(SRC, 106, 5);
      expect<u32>(xrEnqueue(h, SRC, 5, false)).toBe(2);
      expect<u32>(xrEnqueue(h, SRC, 1, false)).toBe(0);
      expect<u32>(count(h)).toBe(8);
      expect<u32>(hdr(h, XR_HIGH_WATER)).toBe(8);
      expect<u32>(xrDequeue(h, OUT, 3, false)).toBe(3);
      expect<u32>(mismatches(OUT, 100, 3)).toBe(0);
      expect<u32>(xrDequeue(h, OUT, 20, false)).toBe(5);
      expect<u32>(mismatches(OUT, 103, 5)).toBe(0);
      expect<u32>(xrDequeue(h, OUT, 1, false)).toBe(0);
      expect<u64>(hdr64(h, XR_ENQUEUED)).toBe(8);
      expect<u64>(hdr64(h, XR_DEQUEUED)).toBe(8);
      expect<bool>(settled(h)).toBe(true);
      expect<u32>(sharedRingDestroy(h)).toBe(E_OK);
    }
  });

  it("bulk: all or nothing; a refusal leaves the header and out untouched", () => {
    for (let flags: u32 = 0; flags < 4; flags++) {
      let h = sharedRingCreate(8, flags);
      fillDescs(SRC, 200, 9);
      expect<u32>(xrEnqueue(h, SRC, 9, true)).toBe(0);
      expect<u32>(xrEnqueue(h, SRC, 5, true)).toBe(5);
      expect<u32>(xrEnqueue(h, SRC, 4, true)).toBe(0);
      fillDescs(OUT, 999, 6);
      expect<u32>(xrDequeue(h, OUT, 6, true)).toBe(0);
      expect<u32>(mismatches(OUT, 999, 6)).toBe(0);
      expect<u32>(hdr(h, XR_PROD_TAIL)).toBe(5);
      expect<u32>(hdr(h, XR_CONS_TAIL)).toBe(0);
      expect<u64>(hdr64(h, XR_ENQUEUED)).toBe(5);
      expect<u64>(hdr64(h, XR_DEQUEUED)).toBe(0);
      expect<u32>(xrDequeue(h, OUT, 5, true)).toBe(5);
      expect<u32>(mismatches(OUT, 200, 5)).toBe(0);
      expect<u32>(xrEnqueue(h, SRC, 0, true)).toBe(0);
      expect<u32>(xrDequeue(h, OUT, 0, false)).toBe(0);
      expect<bool>(settled(h)).toBe(true);
      expect<u32>(sharedRingDestroy(h)).toBe(E_OK);
    }
  });

  it("copies in two runs across the slot wrap, and indices run across 2^32", () => {
    for (let flags: u32 = 0; flags < 4; flags++) {
      let h = sharedRingCreate(8, flags);
      setIndices(h, 0xFFFFFFFD); // slot 5 of 8
      memory.fill(base(h) + XR_DESCS, 0xEE, 8 * RING_DESC_SIZE);
      fillDescs(SRC, 300, 7);
      expect<u32>(xrEnqueue(h, SRC, 7, true)).toBe(7); // slots 5, 6, 7, 0, 1, 2, 3
      expect<u32>(mismatches(base(h) + XR_DESCS + 5 * RING_DESC_SIZE, 300, 3)).toBe(0);
      expect<u32>(mismatches(base(h) + XR_DESCS, 303, 4)).toBe(0);
      expect<u32>(hdr(h, XR_PROD_TAIL)).toBe(4); // wrapped
      expect<u32>(count(h)).toBe(7);
      expect<u32>(xrEnqueue(h, SRC, 2, true)).toBe(0);
      expect<u32>(xrEnqueue(h, SRC, 2, false)).toBe(1);
      expect<u32>(xrDequeue(h, OUT, 8, true)).toBe(8);
      expect<u32>(mismatches(OUT, 300, 7)).toBe(0);
      expect<u32>(mismatches(OUT + 7 * RING_DESC_SIZE, 300, 1)).toBe(0);
      expect<u32>(hdr(h, XR_CONS_TAIL)).toBe(5);
      expect<bool>(settled(h)).toBe(true);
      expect<u32>(hdr(h, XR_HIGH_WATER)).toBe(8);
      expect<u32>(sharedRingDestroy(h)).toBe(E_OK);
    }
  });

  it("the u64 totals carry past 2^32", () => {
    let h = sharedRingCreate(8, 0);
    store<u64>(base(h) + XR_ENQUEUED, 0xFFFFFFFE);
    fillDescs(SRC, 1, 3);
    expect<u32>(xrEnqueue(h, SRC, 3, false)).toBe(3);
    expect<u64>(hdr64(h, XR_ENQUEUED)).toBe(0x100000001);
    expect<u32>(sharedRingDestroy(h)).toBe(E_OK);
  });
});

describe("waiters", () => {
  it("sharedRingWaiter counts per side and validates the handle", () => {
    resetAll();
    let h = sharedRingCreate(4, 0);
    expect<u32>(sharedRingWaiter(h, XR_SIDE_CONS, 1)).toBe(E_OK);
    expect<u32>(sharedRingWaiter(h, XR_SIDE_CONS, 1)).toBe(E_OK);
    expect<u32>(sharedRingWaiter(h, XR_SIDE_PROD, 1)).toBe(E_OK);
    expect<u32>(hdr(h, XR_CONS_WAITERS)).toBe(2);
    expect<u32>(hdr(h, XR_PROD_WAITERS)).toBe(1);
    // With waiters registered the calls still work (the wake-up is a no-op without threads).
    fillDescs(SRC, 1, 1);
    expect<u32>(xrEnqueue(h, SRC, 1, false)).toBe(1);
    expect<u32>(xrDequeue(h, OUT, 1, false)).toBe(1);
    expect<u32>(sharedRingWaiter(h, XR_SIDE_CONS, -1)).toBe(E_OK);
    expect<u32>(sharedRingWaiter(h, XR_SIDE_CONS, -1)).toBe(E_OK);
    expect<u32>(sharedRingWaiter(h, XR_SIDE_PROD, -1)).toBe(E_OK);
    expect<u32>(hdr(h, XR_CONS_WAITERS) | hdr(h, XR_PROD_WAITERS)).toBe(0);
    expect<u32>(sharedRingDestroy(h)).toBe(E_OK);
    expect<u32>(sharedRingWaiter(h, XR_SIDE_CONS, -1)).toBe(E_NOT_ALLOCATED);
  });

  it("destroy changes both tails (a waiter about to sleep sees a new value)", () => {
    let h = sharedRingCreate(4, 0);
    fillDescs(SRC, 1, 2);
    expect<u32>(xrEnqueue(h, SRC, 2, false)).toBe(2);
    let b = base(h);
    expect<u32>(sharedRingDestroy(h)).toBe(E_OK);
    expect<u32>(load<u32>(b + XR_PROD_TAIL)).toBe(~<u32>2);
    expect<u32>(load<u32>(b + XR_CONS_TAIL)).toBe(~<u32>0);
    expect<u32>(load<u32>(b + XR_FLAGS)).toBe(0);
  });
});
