// The virtual NIC hardware (nic.ts; NDIS-SPEC §9): hub and NIC records (create, check, attach,
// detach, destroy and their E_BUSY cases), receive descriptors (nicPostRecv validation, the ring
// limit, nicUnpostRecv), the send and DPC paths (nicSend, nicTakeImmediate, hubDpc, nicTakeDone / nicTakeRx chains
// and counts, frame bytes, padding to 60, truncation to 1514, INVALID_DATA, multi-NB NBLs,
// batching, the TCB backlog, drops), nicStop and nicCancel.
import {
  E_OK, E_NOT_OURS, E_WRONG_KIND, E_NOT_ALLOCATED, E_NB_RANGE, E_BUSY, E_NBL_LOOP, ARG_SHIFT,
  NBL_NEXT, NBL_FIRST_NB, NBL_STATUS, NBL_SOURCE_HANDLE, NBL_INFO,
  NB_NEXT, NB_DATA_LENGTH, NB_DATA_OFFSET, NB_MDL_CHAIN, NB_CURRENT_MDL, NB_CURRENT_MDL_OFFSET, MDL_BYTE_COUNT,
} from "../layout";
import {
  init, resetAll, errDetail, errPtr,
  nblPoolCreate, nblAllocate, nblFree, nbPoolCreate, nbAllocateMdlAndData,
} from "../index";
import {
  hubCreate, hubCheck, hubDestroy, nicCreate, nicCheck, nicHeld, nicDestroy, nicAttach, nicDetach,
  nicSetReady, nicPostRecv, nicPostRecvChain, nicSend, nicTakeImmediate, hubDpc, nicTakeDone, nicTakeRx, nicStop, nicUnpostRecv, nicCancel,
  NIC_MAX_FRAME, NIC_MIN_FRAME, NIC_HEADER, STATUS_INVALID_DATA, NBL_INFO_CANCEL_ID, NICF_READY,
  N_TYPE, N_HUB, N_NEXT, N_FLAGS, N_ADAPTER, N_TCB_CAP, N_RCB_CAP, N_WAIT_HEAD, N_WAIT_TAIL, N_CUR_NB,
  N_RCB_PROD, N_RCB_CONS, N_RX_PROD, N_RX_CONS, N_DONE_COUNT, N_RXC_COUNT,
  N_TX_FRAMES, N_TX_BYTES, N_RX_FRAMES, N_RX_BYTES, N_RX_DROPPED, N_TX_ERRORS, N_SENDS_QUEUED, N_SENDS_DONE,
} from "../nic";
import { mdlVa } from "../dataspace";

const ROOT_ADDR = init(1024); // 64 MiB

const TAG_RX: u32 = 0x72434e31; // '1NCr'
const TAG_TX: u32 = 0x74434e31; // '1NCt'
const TAG_NB: u32 = 0x62434e31; // '1NCb'
const STATUS_PAUSED: u32 = 0xC023002A;
const STATUS_SEND_ABORTED: u32 = 0xC023000C;
const H_FIRST: u32 = 4;
const H_COUNT: u32 = 8;

/** P_USER2 of an NBL pool: ContextSize | fAllocateNetBuffer << 16 | ProtocolId << 24. */
function packed(ctx: u32, allocNb: bool, pid: u32): u32 { return ctx | (allocNb ? 0x10000 : 0) | (pid << 24); }
function argErr(arg: u32, e: u32): u32 { return (arg << ARG_SHIFT) | e; }

// Pools (recreated after each resetAll by makePools).
let rxPool: usize = 0;    // fAllocateNetBuffer, DataSize 1514: receive buffers and frames
let bigPool: usize = 0;   // DataSize 2000
let smallPool: usize = 0; // DataSize 200
let nbOnly: usize = 0;    // fAllocateNetBuffer, DataSize 0: an NB without MDL
let plain: usize = 0;     // no NB
let nbPool: usize = 0;    // NET_BUFFERs with 1514 bytes of data

function makePools(): void {
  resetAll();
  rxPool = nblPoolCreate(0, TAG_RX, NIC_MAX_FRAME, 0, packed(0, true, 0));
  bigPool = nblPoolCreate(0, TAG_TX, 2000, 0, packed(0, true, 0));
  smallPool = nblPoolCreate(0, TAG_TX, 200, 0, packed(0, true, 0));
  nbOnly = nblPoolCreate(0, TAG_TX, 0, 0, packed(0, true, 0));
  plain = nblPoolCreate(0, TAG_TX, 0, 0, packed(0, false, 0));
  nbPool = nbPoolCreate(0, TAG_NB, NIC_MAX_FRAME, 0);
}

// -- frames ----------------------------------------------------------------------------------------

/** Byte `i` of frame `seq`: never 0, so zero padding shows. */
function byteAt(seq: u32, i: u32): u8 { return <u8>(((seq * 13 + i * 7) % 255) + 1); }

/** Writes frame `seq` of `len` bytes into the NB's first MDL and sets its DataLength. */
function fillNb(nb: usize, len: u32, seq: u32): void {
  let va = mdlVa(<usize>load<u32>(nb + NB_MDL_CHAIN));
  for (let i: u32 = 0; i < len; i++) store<u8>(va + i, byteAt(seq, i));
  store<u32>(nb + NB_DATA_LENGTH, len);
}

/** An NBL from `pool` (with a DataSize) holding frame `seq` of `len` bytes. */
function txNbl(pool: usize, len: u32, seq: u32): usize {
  let nbl = nblAllocate(pool, 0, 0);
  fillNb(<usize>load<u32>(nbl + NBL_FIRST_NB), len, seq);
  return nbl;
}

/** An NBL without preallocated NB carrying `count` NBs, frames seq0, seq0 + 1… of `len` bytes. */
function multiNbl(count: u32, len: u32, seq0: u32): usize {
  let nbl = nblAllocate(plain, 0, 0);
  let prev: usize = 0;
  for (let i: u32 = 0; i < count; i++) {
    let nb = nbAllocateMdlAndData(nbPool);
    fillNb(nb, len, seq0 + i);
    if (prev == 0) store<u32>(nbl + NBL_FIRST_NB, <u32>nb);
    else store<u32>(prev + NB_NEXT, <u32>nb);
    prev = nb;
  }
  return nbl;
}

function setCancelId(nbl: usize, id: u32): void { store<u32>(nbl + NBL_INFO + (NBL_INFO_CANCEL_ID << 2), id); }

/** Bytes of received NBL `rx` that differ from frame `seq` of `len` sent bytes (0xFFFFFFFF: wrong length). */
function rxBad(rx: usize, len: u32, seq: u32): u32 {
  let nb = <usize>load<u32>(rx + NBL_FIRST_NB);
  let want = max<u32>(min<u32>(len, NIC_MAX_FRAME), NIC_MIN_FRAME);
  if (load<u32>(nb + NB_DATA_LENGTH) != want) return 0xFFFFFFFF;
  if (load<u32>(nb + NB_DATA_OFFSET) != 0) return 0xFFFFFFFE;
  let m = <usize>load<u32>(nb + NB_CURRENT_MDL);
  if (m != <usize>load<u32>(nb + NB_MDL_CHAIN)) return 0xFFFFFFFD;
  let va = mdlVa(m) + load<u32>(nb + NB_CURRENT_MDL_OFFSET);
  let real = min<u32>(len, NIC_MAX_FRAME);
  let bad: u32 = 0;
  for (let i: u32 = 0; i < want; i++) {
    let b: u8 = i < real ? byteAt(seq, i) : 0;
    if (load<u8>(va + i) != b) bad++;
  }
  return bad;
}

function next(nbl: usize): usize { return <usize>load<u32>(nbl + NBL_NEXT); }
function link2(a: usize, b: usize): usize { store<u32>(a + NBL_NEXT, <u32>b); return a; }
function link3(a: usize, b: usize, c: usize): usize { store<u32>(a + NBL_NEXT, <u32>b); store<u32>(b + NBL_NEXT, <u32>c); return a; }
function chainLen(head: usize): u32 { let n: u32 = 0; for (let p = head; p != 0; p = next(p)) n++; return n; }
function nth(head: usize, i: u32): usize { let p = head; for (let k: u32 = 0; k < i; k++) p = next(p); return p; }
function status(nbl: usize): u32 { return load<u32>(nbl + NBL_STATUS); }
function c64(n: usize, off: u32): u64 { return load<u64>(n + off); }
function f32(n: usize, off: u32): u32 { return load<u32>(n + off); }

/** Frees every NBL of a chain. */
function freeChain(head: usize): void {
  let p = head;
  while (p != 0) { let nx = next(p); nblFree(p); p = nx; }
}

/** Posts `k` new receive NBLs; returns how many were refused. */
function postNew(n: usize, k: u32): u32 {
  let bad: u32 = 0;
  for (let i: u32 = 0; i < k; i++) if (nicPostRecv(n, nblAllocate(rxPool, 0, 0)) != E_OK) bad++;
  return bad;
}

/** Re-posts every NBL of a taken receive chain (the miniport's return path); returns refusals. */
function repost(n: usize, head: usize): u32 {
  let bad: u32 = 0;
  let p = head;
  while (p != 0) {
    let nx = next(p);
    if (nicPostRecv(n, p) != E_OK) bad++;
    p = nx;
  }
  return bad;
}

/** A ready NIC with `rcb` receive NBLs posted, attached to `h` (when not 0). */
function readyNic(h: usize, tcb: u32, rcb: u32, adapter: u32): usize {
  let n = nicCreate(tcb, rcb, adapter);
  if (h != 0) nicAttach(n, h);
  nicSetReady(n, 1);
  postNew(n, rcb);
  return n;
}

// Per-describe state (AssemblyScript closures cannot capture locals).
let ad_h: usize = 0;
let ad_n1: usize = 0;
let ad_n2: usize = 0;
let ad_n3: usize = 0;
let pr_n: usize = 0;
let pr_a: usize = 0;
let pr_b: usize = 0;
let sd_h: usize = 0;
let sd_n0: usize = 0;
let sd_n1: usize = 0;
let sd_n2: usize = 0;
let st_h: usize = 0;
let st_s: usize = 0;
let st_r: usize = 0;
let st_u: usize = 0;
let cc_h: usize = 0;
let cc_s: usize = 0;
let cc_r: usize = 0;

describe("setup", () => {
  it("init succeeds", () => {
    expect<usize>(ROOT_ADDR).toBeGreaterThan(0);
  });
});

// -- records ---------------------------------------------------------------------------------------------

describe("hub and NIC records", () => {
  beforeAll(() => { makePools(); });

  it("hubCreate / nicCreate make typed, checked records", () => {
    let h = hubCreate();
    let n = nicCreate(8, 4, 0xA0);
    expect<usize>(h).toBeGreaterThan(0);
    expect<usize>(n).toBeGreaterThan(0);
    expect<u32>(hubCheck(h)).toBe(E_OK);
    expect<u32>(nicCheck(n)).toBe(E_OK);
    expect<u32>(f32(h, H_FIRST)).toBe(0);
    expect<u32>(f32(h, H_COUNT)).toBe(0);
    expect<u32>(f32(n, N_TYPE)).toBe(2);
    expect<u32>(f32(n, N_TCB_CAP)).toBe(8);
    expect<u32>(f32(n, N_RCB_CAP)).toBe(4);
    expect<u32>(f32(n, N_ADAPTER)).toBe(0xA0);
    expect<u32>(f32(n, N_HUB)).toBe(0);
    expect<u32>(f32(n, N_FLAGS)).toBe(0);
    expect<u32>(nicHeld(n)).toBe(0);
    // Each check wants its own type.
    expect<u32>(hubCheck(n)).toBe(E_WRONG_KIND);
    expect<u32>(nicCheck(h)).toBe(E_WRONG_KIND);
    expect<u32>(nicCheck(12345)).toBe(E_NOT_OURS);
    expect<u32>(nicCheck(rxPool)).toBe(E_WRONG_KIND);
    expect<u32>(nicDestroy(n)).toBe(E_OK);
    expect<u32>(hubDestroy(h)).toBe(E_OK);
  });

  it("nicCreate wants power-of-two ring sizes in [1, 65536]", () => {
    expect<usize>(nicCreate(0, 8, 0)).toBe(0);
    expect<usize>(nicCreate(8, 0, 0)).toBe(0);
    expect<usize>(nicCreate(3, 8, 0)).toBe(0);
    expect<usize>(nicCreate(8, 12, 0)).toBe(0);
    expect<usize>(nicCreate(131072, 8, 0)).toBe(0);
    expect<usize>(nicCreate(8, 1 << 17, 0)).toBe(0);
    let a = nicCreate(1, 1, 0);
    let b = nicCreate(65536, 2, 0);
    expect<usize>(a).toBeGreaterThan(0);
    expect<usize>(b).toBeGreaterThan(0);
    expect<u32>(nicDestroy(a)).toBe(E_OK);
    expect<u32>(nicDestroy(b)).toBe(E_OK);
  });

  it("nicSetReady sets and clears NICF_READY", () => {
    let n = nicCreate(2, 2, 0);
    expect<u32>(nicSetReady(n, 1)).toBe(E_OK);
    expect<u32>(f32(n, N_FLAGS) & NICF_READY).toBe(NICF_READY);
    expect<u32>(nicSetReady(n, 0)).toBe(E_OK);
    expect<u32>(f32(n, N_FLAGS) & NICF_READY).toBe(0);
    expect<u32>(nicSetReady(12345, 1)).toBe(E_NOT_OURS);
    nicDestroy(n);
  });
});

describe("attach / detach / destroy", () => {
  beforeAll(() => {
    makePools();
    ad_h = hubCreate();
    ad_n1 = nicCreate(4, 4, 1);
    ad_n2 = nicCreate(4, 4, 2);
    ad_n3 = nicCreate(4, 4, 3);
  });

  it("nicAttach appends to the hub's list and counts", () => {
    expect<u32>(nicAttach(ad_n1, ad_h)).toBe(E_OK);
    expect<u32>(nicAttach(ad_n2, ad_h)).toBe(E_OK);
    expect<u32>(nicAttach(ad_n3, ad_h)).toBe(E_OK);
    expect<u32>(f32(ad_h, H_COUNT)).toBe(3);
    expect<u32>(f32(ad_h, H_FIRST)).toBe(<u32>ad_n1);
    expect<u32>(f32(ad_n1, N_NEXT)).toBe(<u32>ad_n2);
    expect<u32>(f32(ad_n2, N_NEXT)).toBe(<u32>ad_n3);
    expect<u32>(f32(ad_n3, N_NEXT)).toBe(0);
    expect<u32>(f32(ad_n2, N_HUB)).toBe(<u32>ad_h);
  });

  it("nicAttach: E_BUSY when already on a hub; bad arguments", () => {
    expect<u32>(nicAttach(ad_n1, ad_h)).toBe(E_BUSY);
    expect<u32>(f32(ad_h, H_COUNT)).toBe(3);
    expect<u32>(nicAttach(ad_n1, ad_n2)).toBe(argErr(1, E_WRONG_KIND));
    expect<u32>(nicAttach(ad_n1, 12345)).toBe(argErr(1, E_NOT_OURS));
    expect<u32>(nicAttach(ad_h, ad_h)).toBe(E_WRONG_KIND);
  });

  it("hubDestroy with NICs attached: E_BUSY, detail = NICs", () => {
    expect<u32>(hubDestroy(ad_h)).toBe(E_BUSY);
    expect<u32>(errDetail()).toBe(3);
    expect<u32>(hubCheck(ad_h)).toBe(E_OK);
    expect<u32>(hubDestroy(ad_n1)).toBe(E_WRONG_KIND);
  });

  it("nicDestroy of a NIC on a hub: E_BUSY", () => {
    expect<u32>(nicDestroy(ad_n2)).toBe(E_BUSY);
    expect<u32>(errDetail()).toBe(0);
    expect<u32>(nicCheck(ad_n2)).toBe(E_OK);
  });

  it("nicDetach from the middle, the head and the tail keeps the list linked", () => {
    expect<u32>(nicDetach(ad_n2)).toBe(E_OK);
    expect<u32>(f32(ad_h, H_COUNT)).toBe(2);
    expect<u32>(f32(ad_h, H_FIRST)).toBe(<u32>ad_n1);
    expect<u32>(f32(ad_n1, N_NEXT)).toBe(<u32>ad_n3);
    expect<u32>(f32(ad_n2, N_HUB)).toBe(0);
    expect<u32>(f32(ad_n2, N_NEXT)).toBe(0);
    // Detaching a NIC on no hub is a no-op.
    expect<u32>(nicDetach(ad_n2)).toBe(E_OK);
    expect<u32>(f32(ad_h, H_COUNT)).toBe(2);
    expect<u32>(nicDetach(ad_n1)).toBe(E_OK);
    expect<u32>(f32(ad_h, H_FIRST)).toBe(<u32>ad_n3);
    expect<u32>(nicDetach(ad_n3)).toBe(E_OK);
    expect<u32>(f32(ad_h, H_FIRST)).toBe(0);
    expect<u32>(f32(ad_h, H_COUNT)).toBe(0);
    // Re-attach works after a detach.
    expect<u32>(nicAttach(ad_n2, ad_h)).toBe(E_OK);
    expect<u32>(nicDetach(ad_n2)).toBe(E_OK);
    expect<u32>(nicDetach(ad_h)).toBe(E_WRONG_KIND);
  });

  it("nicDestroy of a NIC holding receive NBLs: E_BUSY, detail = NBLs held", () => {
    expect<u32>(postNew(ad_n1, 3)).toBe(0);
    expect<u32>(nicHeld(ad_n1)).toBe(3);
    expect<u32>(nicDestroy(ad_n1)).toBe(E_BUSY);
    expect<u32>(errDetail()).toBe(3);
    let k: u32 = 0;
    for (let p = nicUnpostRecv(ad_n1); p != 0; p = nicUnpostRecv(ad_n1)) { nblFree(p); k++; }
    expect<u32>(k).toBe(3);
    expect<u32>(nicDestroy(ad_n1)).toBe(E_OK);
    expect<u32>(nicCheck(ad_n1)).toBe(E_NOT_ALLOCATED);
    expect<u32>(nicDestroy(ad_n1)).toBe(E_NOT_ALLOCATED);
  });

  it("an empty hub is destroyed; its handle is dead afterwards", () => {
    expect<u32>(nicDestroy(ad_n2)).toBe(E_OK);
    expect<u32>(nicDestroy(ad_n3)).toBe(E_OK);
    expect<u32>(hubDestroy(ad_h)).toBe(E_OK);
    expect<u32>(hubCheck(ad_h)).toBe(E_NOT_ALLOCATED);
    expect<u32>(hubDestroy(ad_h)).toBe(E_NOT_ALLOCATED);
  });
});

// -- receive descriptors ------------------------------------------------------------------------------------

describe("nicPostRecv / nicUnpostRecv", () => {
  beforeAll(() => {
    makePools();
    pr_n = nicCreate(4, 4, 7);
  });

  it("accepts live NBLs whose first MDL holds >= 1514 bytes, up to the ring size", () => {
    pr_a = nblAllocate(rxPool, 0, 0);
    pr_b = nblAllocate(bigPool, 0, 0);
    expect<u32>(nicPostRecv(pr_n, pr_a)).toBe(E_OK);
    expect<u32>(nicPostRecv(pr_n, pr_b)).toBe(E_OK);
    expect<u32>(postNew(pr_n, 2)).toBe(0);
    expect<u32>(f32(pr_n, N_RCB_PROD) - f32(pr_n, N_RCB_CONS)).toBe(4);
    let extra = nblAllocate(rxPool, 0, 0);
    expect<u32>(nicPostRecv(pr_n, extra)).toBe(E_BUSY);
    expect<u32>(errDetail()).toBe(4);
    expect<u32>(nicHeld(pr_n)).toBe(4);
    nblFree(extra);
  });

  it("E_NB_RANGE for a first MDL under 1514 bytes, an NB without MDL, an NBL without NB", () => {
    let m = nicCreate(4, 4, 8);
    let s = nblAllocate(smallPool, 0, 0);
    expect<u32>(nicPostRecv(m, s)).toBe(E_NB_RANGE);
    expect<u32>(errDetail()).toBe(200);
    expect<usize>(errPtr()).toBe(s);
    let o = nblAllocate(nbOnly, 0, 0);
    expect<u32>(nicPostRecv(m, o)).toBe(E_NB_RANGE);
    expect<u32>(errDetail()).toBe(0);
    let p = nblAllocate(plain, 0, 0);
    expect<u32>(nicPostRecv(m, p)).toBe(E_NB_RANGE);
    expect<u32>(errDetail()).toBe(0);
    // A 1514-byte NB from an NB pool attached to a plain NBL is fine.
    store<u32>(p + NBL_FIRST_NB, <u32>nbAllocateMdlAndData(nbPool));
    expect<u32>(nicPostRecv(m, p)).toBe(E_OK);
    expect<u32>(nicHeld(m)).toBe(1);
    expect<usize>(nicUnpostRecv(m)).toBe(p);
    expect<u32>(nicDestroy(m)).toBe(E_OK);
  });

  it("nicPostRecvChain posts a Next-linked chain in order, and stops at the first bad NBL", () => {
    let m = nicCreate(4, 4, 8);
    let a = nblAllocate(rxPool, 0, 0);
    let b = nblAllocate(rxPool, 0, 0);
    let c = nblAllocate(rxPool, 0, 0);
    store<u32>(a + NBL_NEXT, <u32>b);
    store<u32>(b + NBL_NEXT, <u32>c);
    store<u32>(c + NBL_NEXT, 0);
    expect<u32>(nicPostRecvChain(m, a)).toBe(3);
    expect<u32>(nicHeld(m)).toBe(3);
    expect<usize>(nicUnpostRecv(m)).toBe(a); // in the order they were posted
    expect<usize>(nicUnpostRecv(m)).toBe(b);
    expect<usize>(nicUnpostRecv(m)).toBe(c);
    expect<u32>(nicPostRecvChain(m, 0)).toBe(0);
    // a freed NBL in the middle: a is posted, the error is b's, c is not posted
    nblFree(b);
    store<u32>(a + NBL_NEXT, <u32>b);
    expect<u32>(nicPostRecvChain(m, a)).toBe(0x80000000 | argErr(1, E_NOT_ALLOCATED));
    expect<u32>(errDetail()).toBe(1);
    expect<u32>(nicHeld(m)).toBe(1);
    expect<usize>(nicUnpostRecv(m)).toBe(a);
    nblFree(a);
    nblFree(c);
    expect<u32>(nicDestroy(m)).toBe(E_OK);
  });

  it("rejects what is not a live NBL (argument 1) and bad NIC handles (argument 0)", () => {
    let m = nicCreate(4, 4, 8);
    let f = nblAllocate(rxPool, 0, 0);
    nblFree(f);
    expect<u32>(nicPostRecv(m, f)).toBe(argErr(1, E_NOT_ALLOCATED));
    expect<u32>(nicPostRecv(m, rxPool)).toBe(argErr(1, E_WRONG_KIND));
    expect<u32>(nicPostRecv(m, 12345)).toBe(argErr(1, E_NOT_OURS));
    expect<u32>(nicPostRecv(12345, pr_a)).toBe(E_NOT_OURS);
    expect<u32>(nicPostRecv(rxPool, pr_a)).toBe(E_WRONG_KIND);
    expect<u32>(nicHeld(m)).toBe(0);
    nicDestroy(m);
  });

  it("filled descriptors count until they are indicated; indicated ones do not", () => {
    let h = hubCreate();
    let r = nicCreate(4, 2, 9);
    let t = nicCreate(4, 2, 10);
    nicAttach(r, h);
    nicAttach(t, h);
    nicSetReady(r, 1);
    expect<u32>(postNew(r, 2)).toBe(0);
    // hubDpc on the sender alone: the frame fills one of r's RCBs (RX ring) but is not indicated.
    expect<u32>(nicSend(t, txNbl(rxPool, 60, 1))).toBe(E_OK);
    expect<u32>(hubDpc(t, 64)).toBe(0);
    expect<u32>(f32(r, N_RCB_PROD) - f32(r, N_RCB_CONS)).toBe(1);
    expect<u32>(f32(r, N_RX_PROD) - f32(r, N_RX_CONS)).toBe(1);
    let extra = nblAllocate(rxPool, 0, 0);
    expect<u32>(nicPostRecv(r, extra)).toBe(E_BUSY);
    expect<u32>(errDetail()).toBe(2);
    // Indicated (in the receive chain, then away with the stack): one more may be posted.
    expect<u32>(hubDpc(r, 64)).toBe(0);
    expect<u32>(f32(r, N_RXC_COUNT)).toBe(1);
    expect<u32>(nicPostRecv(r, extra)).toBe(E_OK);
    expect<u32>(nicHeld(r)).toBe(3); // 2 free RCBs + 1 in the receive chain
    let rx = nicTakeRx(r);
    expect<u32>(errDetail()).toBe(1);
    expect<u32>(rxBad(rx, 60, 1)).toBe(0);
    expect<u32>(nicHeld(r)).toBe(2);
    // Returning it now would exceed the ring: E_BUSY.
    expect<u32>(nicPostRecv(r, rx)).toBe(E_BUSY);
    nblFree(rx);
    freeChain(nicTakeDone(t));
    nicDetach(r);
    nicDetach(t);
    for (let p = nicUnpostRecv(r); p != 0; p = nicUnpostRecv(r)) nblFree(p);
    expect<u32>(nicDestroy(r)).toBe(E_OK);
    expect<u32>(nicDestroy(t)).toBe(E_OK);
    expect<u32>(hubDestroy(h)).toBe(E_OK);
  });

  it("nicUnpostRecv hands the free NBLs back in posting order, then 0", () => {
    expect<usize>(nicUnpostRecv(pr_n)).toBe(pr_a);
    expect<usize>(nicUnpostRecv(pr_n)).toBe(pr_b);
    expect<usize>(nicUnpostRecv(pr_n)).toBeGreaterThan(0);
    expect<usize>(nicUnpostRecv(pr_n)).toBeGreaterThan(0);
    expect<usize>(nicUnpostRecv(pr_n)).toBe(0);
    expect<u32>(nicHeld(pr_n)).toBe(0);
    expect<u32>(nicDestroy(pr_n)).toBe(E_OK);
  });
});

// -- send / DPC / receive -----------------------------------------------------------------------------------------

/** Takes the receive chains of n1 and n2 and re-posts them; frees the done chain of n0. */
function drain(): void {
  repost(sd_n1, nicTakeRx(sd_n1));
  repost(sd_n2, nicTakeRx(sd_n2));
  let p = nicTakeDone(sd_n0);
  while (p != 0) { let nx = next(p); nblFree(p); p = nx; }
}

describe("nicSend / hubDpc / nicTakeDone / nicTakeRx", () => {
  beforeAll(() => {
    makePools();
    sd_h = hubCreate();
    sd_n0 = readyNic(sd_h, 8, 8, 0xA0);
    sd_n1 = readyNic(sd_h, 8, 8, 0xA1);
    sd_n2 = readyNic(sd_h, 8, 8, 0xA2);
  });

  it("a chain of three frames reaches both other NICs, byte for byte, padded to 60", () => {
    let a = txNbl(rxPool, 60, 1);
    let b = txNbl(rxPool, 20, 2);
    let c = txNbl(rxPool, 1514, 3);
    expect<u32>(nicSend(sd_n0, link3(a, b, c))).toBe(E_OK);
    expect<u32>(errDetail()).toBe(3);
    expect<u64>(c64(sd_n0, N_SENDS_QUEUED)).toBe(3);
    expect<u32>(f32(sd_n0, N_WAIT_HEAD)).toBe(<u32>a);
    expect<u32>(f32(sd_n0, N_WAIT_TAIL)).toBe(<u32>c);
    expect<u32>(nicHeld(sd_n0)).toBe(3 + 8);
    expect<u32>(hubDpc(sd_h, 64)).toBe(0);
    // Send completions: the chain, in order, SUCCESS.
    let done = nicTakeDone(sd_n0);
    expect<u32>(errDetail()).toBe(3);
    expect<usize>(done).toBe(a);
    expect<usize>(next(a)).toBe(b);
    expect<usize>(next(b)).toBe(c);
    expect<usize>(next(c)).toBe(0);
    expect<u32>(status(a) | status(b) | status(c)).toBe(0);
    expect<usize>(nicTakeDone(sd_n0)).toBe(0);
    expect<u32>(errDetail()).toBe(0);
    // Receives at n1 and n2, none at the sender.
    let r1 = nicTakeRx(sd_n1);
    expect<u32>(errDetail()).toBe(3);
    let r2 = nicTakeRx(sd_n2);
    expect<u32>(errDetail()).toBe(3);
    expect<usize>(nicTakeRx(sd_n0)).toBe(0);
    expect<u32>(errDetail()).toBe(0);
    expect<u32>(chainLen(r1)).toBe(3);
    expect<u32>(rxBad(nth(r1, 0), 60, 1)).toBe(0);
    expect<u32>(rxBad(nth(r1, 1), 20, 2)).toBe(0);
    expect<u32>(rxBad(nth(r1, 2), 1514, 3)).toBe(0);
    expect<u32>(rxBad(nth(r2, 0), 60, 1)).toBe(0);
    expect<u32>(rxBad(nth(r2, 1), 20, 2)).toBe(0);
    expect<u32>(rxBad(nth(r2, 2), 1514, 3)).toBe(0);
    for (let i: u32 = 0; i < 3; i++) {
      expect<u32>(load<u32>(nth(r1, i) + NBL_SOURCE_HANDLE)).toBe(0xA1);
      expect<u32>(load<u32>(nth(r2, i) + NBL_SOURCE_HANDLE)).toBe(0xA2);
      expect<u32>(status(nth(r1, i))).toBe(0);
    }
    // Counters.
    expect<u64>(c64(sd_n0, N_TX_FRAMES)).toBe(3);
    expect<u64>(c64(sd_n0, N_TX_BYTES)).toBe(60 + 60 + 1514);
    expect<u64>(c64(sd_n0, N_SENDS_DONE)).toBe(3);
    expect<u64>(c64(sd_n0, N_RX_FRAMES)).toBe(0);
    expect<u64>(c64(sd_n1, N_RX_FRAMES)).toBe(3);
    expect<u64>(c64(sd_n1, N_RX_BYTES)).toBe(60 + 60 + 1514);
    expect<u64>(c64(sd_n2, N_RX_BYTES)).toBe(60 + 60 + 1514);
    expect<u64>(c64(sd_n1, N_RX_DROPPED)).toBe(0);
    expect<u64>(c64(sd_n1, N_TX_FRAMES)).toBe(0);
    // The miniport returns them: they are free descriptors again.
    expect<u32>(repost(sd_n1, r1)).toBe(0);
    expect<u32>(repost(sd_n2, r2)).toBe(0);
    expect<u32>(nicHeld(sd_n1)).toBe(8);
    nblFree(a); nblFree(b); nblFree(c);
    expect<u32>(nicHeld(sd_n0)).toBe(8);
  });

  it("a NIC that is not ready hears nothing and counts nothing", () => {
    nicSetReady(sd_n2, 0);
    let before = c64(sd_n2, N_RX_FRAMES);
    expect<u32>(nicSend(sd_n0, txNbl(rxPool, 100, 4))).toBe(E_OK);
    expect<u32>(hubDpc(sd_h, 64)).toBe(0);
    expect<u64>(c64(sd_n2, N_RX_FRAMES)).toBe(before);
    expect<u64>(c64(sd_n2, N_RX_DROPPED)).toBe(0);
    let r1 = nicTakeRx(sd_n1);
    expect<u32>(rxBad(r1, 100, 4)).toBe(0);
    expect<usize>(nicTakeRx(sd_n2)).toBe(0);
    repost(sd_n1, r1);
    nicSetReady(sd_n2, 1);
    drain();
  });

  it("a NIC without a free descriptor drops the frame and counts it", () => {
    let n3 = readyNic(sd_h, 2, 2, 0xA3);
    let head = link3(txNbl(rxPool, 60, 5), txNbl(rxPool, 61, 6), txNbl(rxPool, 62, 7));
    store<u32>(nth(head, 2) + NBL_NEXT, <u32>link2(txNbl(rxPool, 63, 8), txNbl(rxPool, 64, 9)));
    expect<u32>(nicSend(sd_n0, head)).toBe(E_OK);
    expect<u32>(errDetail()).toBe(5);
    expect<u32>(hubDpc(sd_h, 64)).toBe(0);
    expect<u64>(c64(n3, N_RX_FRAMES)).toBe(2);
    expect<u64>(c64(n3, N_RX_DROPPED)).toBe(3);
    expect<u64>(c64(n3, N_RX_BYTES)).toBe(121);
    let r3 = nicTakeRx(n3);
    expect<u32>(errDetail()).toBe(2);
    expect<u32>(rxBad(r3, 60, 5)).toBe(0);
    expect<u32>(rxBad(next(r3), 61, 6)).toBe(0);
    // The others had room.
    expect<u32>(f32(sd_n1, N_RXC_COUNT)).toBe(5);
    // Returned: n3 takes frames again.
    expect<u32>(repost(n3, r3)).toBe(0);
    drain();
    expect<u32>(nicSend(sd_n0, txNbl(rxPool, 70, 10))).toBe(E_OK);
    hubDpc(sd_h, 64);
    r3 = nicTakeRx(n3);
    expect<u32>(rxBad(r3, 70, 10)).toBe(0);
    expect<u64>(c64(n3, N_RX_DROPPED)).toBe(3);
    repost(n3, r3);
    drain();
    nicDetach(n3);
    for (let p = nicUnpostRecv(n3); p != 0; p = nicUnpostRecv(n3)) nblFree(p);
    expect<u32>(nicDestroy(n3)).toBe(E_OK);
  });

  it("a frame shorter than 14 bytes fails with STATUS_INVALID_DATA and counts a send error", () => {
    let errs = c64(sd_n0, N_TX_ERRORS);
    let frames = c64(sd_n0, N_TX_FRAMES);
    let a = txNbl(rxPool, NIC_HEADER - 1, 11);
    let b = txNbl(rxPool, NIC_HEADER, 12);
    expect<u32>(nicSend(sd_n0, link2(a, b))).toBe(E_OK);
    hubDpc(sd_h, 64);
    expect<u32>(status(a)).toBe(STATUS_INVALID_DATA);
    expect<u32>(status(b)).toBe(0);
    expect<u64>(c64(sd_n0, N_TX_ERRORS)).toBe(errs + 1);
    expect<u64>(c64(sd_n0, N_TX_FRAMES)).toBe(frames + 1);
    let r1 = nicTakeRx(sd_n1);
    expect<u32>(errDetail()).toBe(1);
    expect<u32>(rxBad(r1, NIC_HEADER, 12)).toBe(0);
    repost(sd_n1, r1);
    let d = nicTakeDone(sd_n0);
    expect<u32>(errDetail()).toBe(2);
    expect<usize>(d).toBe(a);
    freeChain(d);
    drain();
  });

  it("an NB with DataLength beyond its MDL chain fails with STATUS_INVALID_DATA", () => {
    let errs = c64(sd_n0, N_TX_ERRORS);
    let a = txNbl(rxPool, 1514, 13);
    store<u32>(load<u32>(a + NBL_FIRST_NB) + NB_DATA_LENGTH, 1515);
    nicSend(sd_n0, a);
    hubDpc(sd_h, 64);
    expect<u32>(status(a)).toBe(STATUS_INVALID_DATA);
    expect<u64>(c64(sd_n0, N_TX_ERRORS)).toBe(errs + 1);
    expect<usize>(nicTakeRx(sd_n1)).toBe(0);
    drain();
  });

  it("an NB without an MDL chain but with DataLength 100 fails with STATUS_INVALID_DATA (no frame of zeros)", () => {
    // nbAndChain() returns E_OK for MdlChain NULL without looking at DataLength, and dmaInto()
    // then copies nothing and pads 60 zero bytes: a 60-byte frame arrives, counted as 100 bytes.
    let errs = c64(sd_n0, N_TX_ERRORS);
    let frames = c64(sd_n0, N_TX_FRAMES);
    let a = nblAllocate(nbOnly, 0, 0);
    let nb = <usize>load<u32>(a + NBL_FIRST_NB);
    expect<u32>(load<u32>(nb + NB_MDL_CHAIN)).toBe(0);
    store<u32>(nb + NB_DATA_LENGTH, 100);
    nicSend(sd_n0, a);
    hubDpc(sd_h, 64);
    let r1 = nicTakeRx(sd_n1);
    let got = errDetail();
    let st = status(a);
    let txErrors = c64(sd_n0, N_TX_ERRORS);
    let txFrames = c64(sd_n0, N_TX_FRAMES);
    repost(sd_n1, r1);
    drain();
    expect<u32>(got).toBe(0);
    expect<u32>(st).toBe(STATUS_INVALID_DATA);
    expect<u64>(txErrors).toBe(errs + 1);
    expect<u64>(txFrames).toBe(frames);
  });

  it("frames longer than 1514 bytes are cut to 1514", () => {
    let bytes = c64(sd_n0, N_TX_BYTES);
    let a = txNbl(bigPool, 2000, 14);
    let b = txNbl(bigPool, 1515, 15);
    nicSend(sd_n0, link2(a, b));
    hubDpc(sd_h, 64);
    let r1 = nicTakeRx(sd_n1);
    expect<u32>(errDetail()).toBe(2);
    expect<u32>(rxBad(r1, 2000, 14)).toBe(0);
    expect<u32>(rxBad(next(r1), 1515, 15)).toBe(0);
    expect<u32>(load<u32>(load<u32>(r1 + NBL_FIRST_NB) + NB_DATA_LENGTH)).toBe(NIC_MAX_FRAME);
    expect<u64>(c64(sd_n0, N_TX_BYTES)).toBe(bytes + 2 * 1514);
    expect<u32>(status(a) | status(b)).toBe(0);
    repost(sd_n1, r1);
    drain();
  });

  it("an NBL with several NBs: one frame per NB, one completion after the last", () => {
    let q = c64(sd_n0, N_SENDS_QUEUED);
    let m = multiNbl(3, 200, 20);
    let one = txNbl(rxPool, 300, 30);
    expect<u32>(nicSend(sd_n0, link2(m, one))).toBe(E_OK);
    expect<u32>(errDetail()).toBe(2);
    expect<u64>(c64(sd_n0, N_SENDS_QUEUED)).toBe(q + 2);
    expect<u32>(hubDpc(sd_h, 64)).toBe(0);
    let d = nicTakeDone(sd_n0);
    expect<u32>(errDetail()).toBe(2);
    expect<usize>(d).toBe(m);
    expect<usize>(next(d)).toBe(one);
    let r1 = nicTakeRx(sd_n1);
    expect<u32>(errDetail()).toBe(4);
    expect<u32>(rxBad(nth(r1, 0), 200, 20)).toBe(0);
    expect<u32>(rxBad(nth(r1, 1), 200, 21)).toBe(0);
    expect<u32>(rxBad(nth(r1, 2), 200, 22)).toBe(0);
    expect<u32>(rxBad(nth(r1, 3), 300, 30)).toBe(0);
    repost(sd_n1, r1);
    drain();
    expect<u64>(c64(sd_n0, N_SENDS_DONE)).toBe(c64(sd_n0, N_SENDS_QUEUED));
  });

  it("an NBL without NBs completes in nicSend", () => {
    let e = nblAllocate(plain, 0, 0);
    let x = txNbl(rxPool, 80, 31);
    expect<u32>(nicSend(sd_n0, link2(x, e))).toBe(E_OK);
    // It completes in a chain of its own, not in the DPC's send-complete chain.
    expect<u32>(f32(sd_n0, N_DONE_COUNT)).toBe(0);
    expect<u32>(f32(sd_n0, N_WAIT_HEAD)).toBe(<u32>x);
    expect<u32>(f32(sd_n0, N_WAIT_TAIL)).toBe(<u32>x);
    expect<usize>(next(x)).toBe(0);
    let d = nicTakeImmediate();
    expect<usize>(d).toBe(e);
    expect<usize>(next(e)).toBe(0);
    expect<usize>(nicTakeImmediate()).toBe(0); // taken once
    expect<u32>(status(e)).toBe(0);
    hubDpc(sd_h, 64);
    drain();
    expect<u64>(c64(sd_n0, N_SENDS_DONE)).toBe(c64(sd_n0, N_SENDS_QUEUED));
  });

  it("nicSend checks the whole chain first: on a bad NBL nothing is queued", () => {
    let q = c64(sd_n0, N_SENDS_QUEUED);
    let a = txNbl(rxPool, 60, 40);
    let f = txNbl(rxPool, 60, 41);
    nblFree(f);
    expect<u32>(nicSend(sd_n0, link2(a, f))).toBe(argErr(1, E_NOT_ALLOCATED));
    expect<u64>(c64(sd_n0, N_SENDS_QUEUED)).toBe(q);
    expect<u32>(f32(sd_n0, N_WAIT_HEAD)).toBe(0);
    // A loop.
    let b = txNbl(rxPool, 60, 42);
    link2(a, b);
    link2(b, a);
    expect<u32>(nicSend(sd_n0, a)).toBe(E_NBL_LOOP);
    expect<u32>(f32(sd_n0, N_WAIT_HEAD)).toBe(0);
    expect<u32>(nicSend(12345, b)).toBe(E_NOT_OURS);
    expect<u32>(nicSend(sd_h, b)).toBe(E_WRONG_KIND);
    expect<u64>(c64(sd_n0, N_SENDS_QUEUED)).toBe(q);
    nblFree(a);
    nblFree(b);
  });

  it("hubDpc on one NIC; on a NIC on no hub the frame leaves and nobody hears it; bad handles", () => {
    let lone = readyNic(0, 4, 4, 0xB0);
    nicSend(lone, txNbl(rxPool, 90, 50));
    expect<u32>(hubDpc(lone, 64)).toBe(0);
    expect<u64>(c64(lone, N_TX_FRAMES)).toBe(1);
    expect<u64>(c64(lone, N_TX_BYTES)).toBe(90);
    let d = nicTakeDone(lone);
    expect<u32>(errDetail()).toBe(1);
    expect<u32>(status(d)).toBe(0);
    nblFree(d);
    // hubDpc on one NIC of a hub: its frames still reach the hub.
    nicSend(sd_n0, txNbl(rxPool, 91, 51));
    expect<u32>(hubDpc(sd_n0, 64)).toBe(0);
    expect<u32>(f32(sd_n1, N_RX_PROD) - f32(sd_n1, N_RX_CONS)).toBe(1); // filled, not indicated yet
    expect<u32>(hubDpc(sd_n1, 64)).toBe(0);
    let r1 = nicTakeRx(sd_n1);
    expect<u32>(rxBad(r1, 91, 51)).toBe(0);
    repost(sd_n1, r1);
    expect<u32>(hubDpc(sd_h, 64)).toBe(0); // n2's frame
    drain();
    expect<u32>(hubDpc(12345, 64)).toBe(0x80000000 | E_NOT_OURS);
    expect<u32>(hubDpc(rxPool, 64)).toBe(0x80000000 | E_WRONG_KIND);
    for (let p = nicUnpostRecv(lone); p != 0; p = nicUnpostRecv(lone)) nblFree(p);
    expect<u32>(nicDestroy(lone)).toBe(E_OK);
  });

  it("budget 2: five frames take three passes, chains of at most 2", () => {
    for (let i: u32 = 0; i < 5; i++) nicSend(sd_n0, txNbl(rxPool, 60 + i, 60 + i));
    let sizes: u32[] = [];
    let dones: u32[] = [];
    let rets: u32[] = [];
    for (let pass = 0; pass < 3; pass++) {
      rets.push(hubDpc(sd_h, 2));
      let r1 = nicTakeRx(sd_n1);
      sizes.push(errDetail());
      for (let p = r1, k: u32 = 0; p != 0; p = next(p), k++) {
        let seq = 60 + <u32>(pass * 2) + k;
        expect<u32>(rxBad(p, seq, seq)).toBe(0);
      }
      repost(sd_n1, r1);
      let d = nicTakeDone(sd_n0);
      dones.push(errDetail());
      while (d != 0) { let nx = next(d); nblFree(d); d = nx; }
      repost(sd_n2, nicTakeRx(sd_n2));
    }
    expect<u32>(rets[0]).toBe(1);
    expect<u32>(rets[1]).toBe(1);
    expect<u32>(rets[2]).toBe(0);
    expect<u32>(sizes[0]).toBe(2);
    expect<u32>(sizes[1]).toBe(2);
    expect<u32>(sizes[2]).toBe(1);
    expect<u32>(dones[0]).toBe(2);
    expect<u32>(dones[1]).toBe(2);
    expect<u32>(dones[2]).toBe(1);
  });

  it("received frames beyond the budget wait in the RX ring: hubDpc reports work", () => {
    // n0 and n2 send 2 each: n1 gets 4 frames, a pass of budget 2 indicates 2.
    nicSend(sd_n0, link2(txNbl(rxPool, 60, 70), txNbl(rxPool, 60, 71)));
    nicSend(sd_n2, link2(txNbl(rxPool, 60, 72), txNbl(rxPool, 60, 73)));
    expect<u32>(hubDpc(sd_h, 2)).toBe(1);
    expect<u32>(f32(sd_n1, N_RXC_COUNT)).toBe(2);
    expect<u32>(f32(sd_n1, N_RX_PROD) - f32(sd_n1, N_RX_CONS)).toBe(2);
    expect<u32>(hubDpc(sd_h, 2)).toBe(0);
    let r1 = nicTakeRx(sd_n1);
    expect<u32>(errDetail()).toBe(4);
    expect<u32>(rxBad(nth(r1, 0), 60, 70)).toBe(0);
    expect<u32>(rxBad(nth(r1, 1), 60, 71)).toBe(0);
    expect<u32>(rxBad(nth(r1, 2), 60, 72)).toBe(0);
    expect<u32>(rxBad(nth(r1, 3), 60, 73)).toBe(0);
    repost(sd_n1, r1);
    repost(sd_n0, nicTakeRx(sd_n0));
    let d = nicTakeDone(sd_n2);
    while (d != 0) { let nx = next(d); nblFree(d); d = nx; }
    drain();
  });

  it("the TCB ring bounds transmissions per pass; the backlog keeps its order", () => {
    let t = readyNic(sd_h, 2, 2, 0xC0);
    for (let i: u32 = 0; i < 5; i++) nicSend(t, txNbl(rxPool, 100, 80 + i));
    let order: u32[] = [];
    let rets: u32[] = [];
    for (let pass = 0; pass < 3; pass++) {
      rets.push(hubDpc(sd_h, 64));
      let d = nicTakeDone(t);
      expect<u32>(errDetail()).toBe(pass < 2 ? 2 : 1);
      while (d != 0) { let nx = next(d); order.push(<u32>d); nblFree(d); d = nx; }
      let r1 = nicTakeRx(sd_n1);
      expect<u32>(errDetail()).toBe(pass < 2 ? 2 : 1);
      for (let p = r1, k: u32 = 0; p != 0; p = next(p), k++) {
        let seq = 80 + <u32>(pass * 2) + k;
        expect<u32>(rxBad(p, 100, seq)).toBe(0);
      }
      repost(sd_n1, r1);
      repost(sd_n2, nicTakeRx(sd_n2));
      repost(sd_n0, nicTakeRx(sd_n0));
    }
    expect<u32>(rets[0]).toBe(1);
    expect<u32>(rets[1]).toBe(1);
    expect<u32>(rets[2]).toBe(0);
    expect<i32>(order.length).toBe(5);
    expect<u64>(c64(t, N_SENDS_DONE)).toBe(5);
    nicDetach(t);
    for (let p = nicUnpostRecv(t); p != 0; p = nicUnpostRecv(t)) nblFree(p);
    expect<u32>(nicDestroy(t)).toBe(E_OK);
  });
});

// -- nicStop ------------------------------------------------------------------------------------------------------

describe("nicStop", () => {
  beforeAll(() => {
    makePools();
    st_h = hubCreate();
    st_s = readyNic(st_h, 1, 4, 0xD0);
    st_r = readyNic(st_h, 4, 8, 0xD1);
    st_u = readyNic(st_h, 4, 4, 0xD2);
  });

  it("fails the backlog with the status, including the rest of a partly transmitted NBL", () => {
    let a = multiNbl(3, 100, 1);
    let b = txNbl(rxPool, 100, 10);
    let c = txNbl(rxPool, 100, 11);
    nicSend(st_s, link3(a, b, c));
    // One TCB: the pass transmits a's first NB and completes it (a keeps 2 references).
    expect<u32>(hubDpc(st_h, 64)).toBe(1);
    expect<u32>(f32(st_s, N_CUR_NB)).not.toBe(0);
    expect<u32>(f32(st_s, N_DONE_COUNT)).toBe(0);
    expect<u32>(nicStop(st_s, STATUS_PAUSED)).toBe(E_OK);
    expect<u32>(f32(st_s, N_WAIT_HEAD)).toBe(0);
    expect<u32>(f32(st_s, N_WAIT_TAIL)).toBe(0);
    expect<u32>(f32(st_s, N_CUR_NB)).toBe(0);
    let d = nicTakeDone(st_s);
    expect<u32>(errDetail()).toBe(3);
    expect<usize>(d).toBe(a);
    expect<usize>(next(a)).toBe(b);
    expect<usize>(next(b)).toBe(c);
    expect<u32>(status(a)).toBe(STATUS_PAUSED);
    expect<u32>(status(b)).toBe(STATUS_PAUSED);
    expect<u32>(status(c)).toBe(STATUS_PAUSED);
    expect<u64>(c64(st_s, N_SENDS_DONE)).toBe(c64(st_s, N_SENDS_QUEUED));
    expect<u64>(c64(st_s, N_TX_FRAMES)).toBe(1);
    expect<u32>(nicHeld(st_s)).toBe(4); // its posted RCBs only
    // The one frame that left reached r.
    expect<u32>(hubDpc(st_h, 64)).toBe(0);
    let rr = nicTakeRx(st_r);
    expect<u32>(errDetail()).toBe(1);
    expect<u32>(rxBad(rr, 100, 1)).toBe(0);
    repost(st_r, rr);
    repost(st_u, nicTakeRx(st_u));
    // Stopping an idle NIC does nothing.
    expect<u32>(nicStop(st_s, STATUS_PAUSED)).toBe(E_OK);
    expect<usize>(nicTakeDone(st_s)).toBe(0);
  });

  it("frames received but not indicated go back to the free descriptors", () => {
    // s and u send one frame each; with budget 1 r indicates one and keeps one in its RX ring.
    nicSend(st_s, txNbl(rxPool, 60, 20));
    nicSend(st_u, txNbl(rxPool, 60, 21));
    expect<u32>(hubDpc(st_h, 1)).toBe(1);
    expect<u32>(f32(st_r, N_RX_PROD) - f32(st_r, N_RX_CONS)).toBe(1);
    expect<u32>(f32(st_r, N_RXC_COUNT)).toBe(1);
    expect<u32>(f32(st_r, N_RCB_PROD) - f32(st_r, N_RCB_CONS)).toBe(6);
    let held = nicHeld(st_r);
    expect<u32>(nicStop(st_r, STATUS_PAUSED)).toBe(E_OK);
    expect<u32>(f32(st_r, N_RX_PROD) - f32(st_r, N_RX_CONS)).toBe(0);
    expect<u32>(f32(st_r, N_RCB_PROD) - f32(st_r, N_RCB_CONS)).toBe(7);
    expect<u32>(nicHeld(st_r)).toBe(held);
    // The indicated one is still in the receive chain; returned, all 8 are free again.
    let rr = nicTakeRx(st_r);
    expect<u32>(errDetail()).toBe(1);
    expect<u32>(repost(st_r, rr)).toBe(0);
    expect<u32>(f32(st_r, N_RCB_PROD) - f32(st_r, N_RCB_CONS)).toBe(8);
    expect<u32>(nicPostRecv(st_r, nblAllocate(rxPool, 0, 0))).toBe(E_BUSY);
    // The stopped NIC takes frames again: 8 in a row, no drop.
    let drops = c64(st_r, N_RX_DROPPED);
    for (let i: u32 = 0; i < 8; i++) nicSend(st_s, txNbl(rxPool, 64, 30 + i));
    hubDpc(st_h, 64);
    hubDpc(st_h, 64);
    while (hubDpc(st_h, 64) != 0) {}
    expect<u64>(c64(st_r, N_RX_DROPPED)).toBe(drops);
    rr = nicTakeRx(st_r);
    expect<u32>(errDetail()).toBe(8);
    repost(st_r, rr);
  });

  it("rejects bad handles", () => {
    expect<u32>(nicStop(12345, 0)).toBe(E_NOT_OURS);
    expect<u32>(nicStop(st_h, 0)).toBe(E_WRONG_KIND);
  });
});

// -- nicCancel ------------------------------------------------------------------------------------------------------

describe("nicCancel", () => {
  beforeAll(() => {
    makePools();
    cc_h = hubCreate();
    cc_s = readyNic(cc_h, 1, 4, 0xE0);
    cc_r = readyNic(cc_h, 4, 16, 0xE1);
  });

  it("completes the queued NBLs with the ID (head, middle, tail) and keeps the rest in order", () => {
    let a = txNbl(rxPool, 60, 1); setCancelId(a, 5);
    let b = txNbl(rxPool, 60, 2); setCancelId(b, 7);
    let c = txNbl(rxPool, 60, 3); setCancelId(c, 5);
    let d = txNbl(rxPool, 60, 4); setCancelId(d, 5);
    store<u32>(c + NBL_NEXT, <u32>d);
    nicSend(cc_s, link3(a, b, c));
    expect<u32>(nicCancel(cc_s, 5, STATUS_SEND_ABORTED)).toBe(3);
    expect<u32>(f32(cc_s, N_WAIT_HEAD)).toBe(<u32>b);
    expect<u32>(f32(cc_s, N_WAIT_TAIL)).toBe(<u32>b);
    expect<usize>(next(b)).toBe(0);
    let done = nicTakeDone(cc_s);
    expect<u32>(errDetail()).toBe(3);
    expect<usize>(done).toBe(a);
    expect<usize>(next(a)).toBe(c);
    expect<usize>(next(c)).toBe(d);
    expect<u32>(status(a)).toBe(STATUS_SEND_ABORTED);
    expect<u32>(status(c)).toBe(STATUS_SEND_ABORTED);
    expect<u32>(status(d)).toBe(STATUS_SEND_ABORTED);
    // Nothing else has that ID; other IDs cancel nothing.
    expect<u32>(nicCancel(cc_s, 5, STATUS_SEND_ABORTED)).toBe(0);
    expect<u32>(nicCancel(cc_s, 9, STATUS_SEND_ABORTED)).toBe(0);
    // A send after the cancel goes behind b.
    let e = txNbl(rxPool, 60, 5);
    nicSend(cc_s, e);
    expect<u32>(f32(cc_s, N_WAIT_TAIL)).toBe(<u32>e);
    while (hubDpc(cc_h, 64) != 0) {}
    let rr = nicTakeRx(cc_r);
    expect<u32>(errDetail()).toBe(2);
    expect<u32>(rxBad(rr, 60, 2)).toBe(0);
    expect<u32>(rxBad(next(rr), 60, 5)).toBe(0);
    repost(cc_r, rr);
    done = nicTakeDone(cc_s);
    expect<u32>(errDetail()).toBe(2);
    expect<usize>(done).toBe(b);
    expect<u32>(status(b)).toBe(0);
    expect<u64>(c64(cc_s, N_SENDS_DONE)).toBe(5);
    expect<u64>(c64(cc_s, N_SENDS_QUEUED)).toBe(5);
    expect<u64>(c64(cc_s, N_TX_FRAMES)).toBe(2);
  });

  it("an NBL partly transmitted is not cancelled; a later one with the same ID is", () => {
    let m = multiNbl(2, 80, 10); setCancelId(m, 3);
    let x = txNbl(rxPool, 80, 20); setCancelId(x, 3);
    nicSend(cc_s, link2(m, x));
    expect<u32>(hubDpc(cc_h, 64)).toBe(1); // one TCB: m's first NB
    expect<u32>(f32(cc_s, N_CUR_NB)).not.toBe(0);
    expect<u32>(nicCancel(cc_s, 3, STATUS_SEND_ABORTED)).toBe(1);
    let d = nicTakeDone(cc_s);
    expect<u32>(errDetail()).toBe(1);
    expect<usize>(d).toBe(x);
    expect<u32>(f32(cc_s, N_WAIT_HEAD)).toBe(<u32>m);
    expect<u32>(f32(cc_s, N_WAIT_TAIL)).toBe(<u32>m);
    while (hubDpc(cc_h, 64) != 0) {}
    d = nicTakeDone(cc_s);
    expect<usize>(d).toBe(m);
    expect<u32>(status(m)).toBe(0);
    let rr = nicTakeRx(cc_r);
    expect<u32>(errDetail()).toBe(2);
    expect<u32>(rxBad(rr, 80, 10)).toBe(0);
    expect<u32>(rxBad(next(rr), 80, 11)).toBe(0);
    repost(cc_r, rr);
  });

  it("rejects bad handles (high bit set)", () => {
    expect<u32>(nicCancel(12345, 1, 0)).toBe(0x80000000 | E_NOT_OURS);
    expect<u32>(nicCancel(cc_h, 1, 0)).toBe(0x80000000 | E_WRONG_KIND);
  });
});
