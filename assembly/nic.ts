// ndis-pool: the virtual NIC hardware (NDIS-SPEC §9: netvmini's model, in Wasm).
//
// A hub connects virtual NICs. Each NIC has
//   - a send wait list: NBLs the miniport handed to the hardware, linked through NBL.Next, with
//     the next NB to transmit (netvmini's SendWaitList);
//   - a TCB ring of `tcbCap` transmit descriptors: NBs "on the wire" until their completion;
//   - an RCB ring of `rcbCap` receive descriptors: NBLs the miniport posted (each with one NB
//     whose first MDL holds at least NIC_MAX_FRAME bytes), filled by the hub;
//   - an RX ring of the filled RCB NBLs waiting to be indicated.
// One DPC pass (`hubDpc`) does, per NIC, up to `budget` transmissions: the NB's bytes (from
// CurrentMdl/CurrentMdlOffset, DataLength bytes, at most 1514, padded with zeros to 60) are
// copied into a free RCB of every *other* ready NIC on the hub; a NIC without a free RCB drops
// the frame and counts it. Completed transmissions drop one reference of their NBL (the count
// of its NBs, in NBL.MiniportReserved[1]); the last one moves the NBL to the NIC's
// send-complete chain. Then up to `budget` filled RCBs per NIC are linked into its receive
// chain, with Status SUCCESS and SourceHandle = the adapter handle. JS takes both chains and
// runs the miniport's callbacks once per chain.
//
// Records are tagged memory (kind K_NIC): hub 'vHub', NIC 'vNIC'. NIC record:
//   0 type (NIC_T_NIC)   4 hub   8 next NIC on the hub   12 flags (NICF_READY)
//   16 adapter handle    20 tcbCap  24 rcbCap
//   28 waitHead  32 waitTail  36 curNb (next NB of waitHead; 0: its first)
//   40 tcbProd  44 tcbCons   48 rcbProd  52 rcbCons   56 rxProd  60 rxCons
//   64 doneHead 68 doneTail 72 doneCount   76 rxHead 80 rxTail 84 rxCount
//   88.. u64 counters: txFrames, txBytes, rxFrames, rxBytes, rxDropped, txErrors,
//        sendsQueued (NBLs), sendsCompleted (NBLs)
//   152 mac (6 bytes)   160 rings: tcb[tcbCap] (NBs), rcb[rcbCap] (NBLs), rx[rcbCap] (NBLs)

import {
  E_OK, E_NOT_OURS, E_WRONG_KIND, K_NIC, K_NBL, NBL_NEXT, NBL_FIRST_NB, NBL_MINIPORT_RESERVED,
  NBL_SOURCE_HANDLE, NBL_STATUS, NBL_INFO, NB_NEXT, NB_CURRENT_MDL, NB_CURRENT_MDL_OFFSET,
  NB_DATA_LENGTH, NB_DATA_OFFSET, NB_MDL_CHAIN, NB_MINIPORT_RESERVED, MDL_NEXT, MDL_BYTE_COUNT,
  E_BUSY, E_NB_RANGE,
} from "./layout";
import { lookup, freeLookedUp, gErrDetail, gErrPtr } from "./slab";
import { argErr, memAlloc } from "./netbuf";
import { nblChainCheck } from "./nbl";
import { nbAndChain, mdlVa } from "./dataspace";
import { RING_DESC_SIZE } from "./ring";
import { sharedRingCheck, xrEnqueue, xrDequeue } from "./xring";
import { wcAlloc, wcFree, cacheFrameSize } from "./wcache";

// @ts-ignore: decorator
@inline export const NIC_MAX_FRAME: u32 = 1514;
// @ts-ignore: decorator
@inline export const NIC_MIN_FRAME: u32 = 60;
// @ts-ignore: decorator
@inline export const NIC_HEADER: u32 = 14;
/** NDIS_STATUS_INVALID_DATA (a frame shorter than its Ethernet header). */
// @ts-ignore: decorator
@inline export const STATUS_INVALID_DATA: u32 = 0xC0010015;
/** NetBufferListCancelId: index of the cancel ID in NetBufferListInfo. */
// @ts-ignore: decorator
@inline export const NBL_INFO_CANCEL_ID: u32 = 5;

// @ts-ignore: decorator
@inline const TAG_VHUB: u32 = 0x62754876; // 'vHub' in memory order
// @ts-ignore: decorator
@inline const TAG_VNIC: u32 = 0x43494e76; // 'vNIC'
// @ts-ignore: decorator
@inline const NIC_T_HUB: u32 = 1;
// @ts-ignore: decorator
@inline const NIC_T_NIC: u32 = 2;
// @ts-ignore: decorator
@inline export const NICF_READY: u32 = 1;

// Hub record: 0 type, 4 first NIC, 8 NIC count; the uplink to a hub in another worker
// (`hubUplink`): 12 tx ring, 16 rx ring (SharedRings, 0: no uplink), 20 the worker cache of the
// frame pool, 24 frames sent, 28 frames received, 32 frames dropped (no frame buffer or the tx
// ring full), 40 descriptor staging area (UPLINK_BURST descriptors).
// @ts-ignore: decorator
@inline const H_FIRST: u32 = 4;
// @ts-ignore: decorator
@inline const H_COUNT: u32 = 8;
// @ts-ignore: decorator
@inline const H_UP_TX: u32 = 12;
// @ts-ignore: decorator
@inline const H_UP_RX: u32 = 16;
// @ts-ignore: decorator
@inline const H_UP_CACHE: u32 = 20;
// @ts-ignore: decorator
@inline export const H_UP_SENT: u32 = 24;
// @ts-ignore: decorator
@inline export const H_UP_RECEIVED: u32 = 28;
// @ts-ignore: decorator
@inline export const H_UP_DROPPED: u32 = 32;
// @ts-ignore: decorator
@inline const H_UP_STAGE: u32 = 40;
/** Frames moved per uplink dequeue. */
// @ts-ignore: decorator
@inline const UPLINK_BURST: u32 = 32;
// @ts-ignore: decorator
@inline const H_SIZE: u32 = H_UP_STAGE + UPLINK_BURST * RING_DESC_SIZE;

// @ts-ignore: decorator
@inline export const N_TYPE: u32 = 0;
// @ts-ignore: decorator
@inline export const N_HUB: u32 = 4;
// @ts-ignore: decorator
@inline export const N_NEXT: u32 = 8;
// @ts-ignore: decorator
@inline export const N_FLAGS: u32 = 12;
// @ts-ignore: decorator
@inline export const N_ADAPTER: u32 = 16;
// @ts-ignore: decorator
@inline export const N_TCB_CAP: u32 = 20;
// @ts-ignore: decorator
@inline export const N_RCB_CAP: u32 = 24;
// @ts-ignore: decorator
@inline export const N_WAIT_HEAD: u32 = 28;
// @ts-ignore: decorator
@inline export const N_WAIT_TAIL: u32 = 32;
// @ts-ignore: decorator
@inline export const N_CUR_NB: u32 = 36;
// @ts-ignore: decorator
@inline export const N_TCB_PROD: u32 = 40;
// @ts-ignore: decorator
@inline export const N_TCB_CONS: u32 = 44;
// @ts-ignore: decorator
@inline export const N_RCB_PROD: u32 = 48;
// @ts-ignore: decorator
@inline export const N_RCB_CONS: u32 = 52;
// @ts-ignore: decorator
@inline export const N_RX_PROD: u32 = 56;
// @ts-ignore: decorator
@inline export const N_RX_CONS: u32 = 60;
// @ts-ignore: decorator
@inline export const N_DONE_HEAD: u32 = 64;
// @ts-ignore: decorator
@inline export const N_DONE_TAIL: u32 = 68;
// @ts-ignore: decorator
@inline export const N_DONE_COUNT: u32 = 72;
// @ts-ignore: decorator
@inline export const N_RXC_HEAD: u32 = 76;
// @ts-ignore: decorator
@inline export const N_RXC_TAIL: u32 = 80;
// @ts-ignore: decorator
@inline export const N_RXC_COUNT: u32 = 84;
// @ts-ignore: decorator
@inline export const N_TX_FRAMES: u32 = 88;
// @ts-ignore: decorator
@inline export const N_TX_BYTES: u32 = 96;
// @ts-ignore: decorator
@inline export const N_RX_FRAMES: u32 = 104;
// @ts-ignore: decorator
@inline export const N_RX_BYTES: u32 = 112;
// @ts-ignore: decorator
@inline export const N_RX_DROPPED: u32 = 120;
// @ts-ignore: decorator
@inline export const N_TX_ERRORS: u32 = 128;
// @ts-ignore: decorator
@inline export const N_SENDS_QUEUED: u32 = 136;
// @ts-ignore: decorator
@inline export const N_SENDS_DONE: u32 = 144;
// @ts-ignore: decorator
@inline export const N_MAC: u32 = 152;
// @ts-ignore: decorator
@inline export const N_RINGS: u32 = 160;
/** Largest ring (descriptors). */
// @ts-ignore: decorator
@inline export const NIC_MAX_RING: u32 = 1 << 16;

// @ts-ignore: decorator
@inline function nU32(n: usize, off: u32): u32 { return load<u32>(n + off); }
// @ts-ignore: decorator
@inline function nSet(n: usize, off: u32, v: u32): void { store<u32>(n + off, v); }
// @ts-ignore: decorator
@inline function nAdd64(n: usize, off: u32, v: u64): void { store<u64>(n + off, load<u64>(n + off) + v); }
// @ts-ignore: decorator
@inline function tcbSlot(n: usize, i: u32): usize { return n + N_RINGS + (<usize>(i & (nU32(n, N_TCB_CAP) - 1)) << 2); }
// @ts-ignore: decorator
@inline function rcbSlot(n: usize, i: u32): usize {
  return n + N_RINGS + (<usize>nU32(n, N_TCB_CAP) << 2) + (<usize>(i & (nU32(n, N_RCB_CAP) - 1)) << 2);
}
// @ts-ignore: decorator
@inline function rxSlot(n: usize, i: u32): usize {
  return n + N_RINGS + (<usize>(nU32(n, N_TCB_CAP) + nU32(n, N_RCB_CAP)) << 2) + (<usize>(i & (nU32(n, N_RCB_CAP) - 1)) << 2);
}
/** The NBL a queued NB belongs to (netvmini: NB MiniportReserved[2]). */
// @ts-ignore: decorator
@inline function nbOwner(nb: usize): usize { return <usize>load<u32>(nb + NB_MINIPORT_RESERVED + 8); }
/** Outstanding NB references of an NBL being sent (netvmini: NBL MiniportReserved[1]). */
// @ts-ignore: decorator
@inline function nblRefs(nbl: usize): usize { return nbl + NBL_MINIPORT_RESERVED + 4; }

/** Checks that `h` is a live record of type `t`. */
function recordCheck(h: usize, t: u32, arg: u32): u32 {
  let e = lookup(h, K_NIC);
  if (e != E_OK) return argErr(arg, e);
  if (load<u32>(h) != t) { gErrDetail = K_NIC; return argErr(arg, E_WRONG_KIND); }
  return E_OK;
}

/** Creates a hub. Returns it or 0 (no memory). */
export function hubCreate(): usize {
  let h = memAlloc(K_NIC, TAG_VHUB, H_SIZE, 1, 0);
  if (h == 0) return 0;
  memory.fill(h, 0, H_SIZE);
  store<u32>(h, NIC_T_HUB);
  return h;
}

/** Checks a hub handle. */
export function hubCheck(h: usize): u32 { return recordCheck(h, NIC_T_HUB, 0); }

/** Destroys an empty hub. E_BUSY (detail: NICs attached) otherwise. */
export function hubDestroy(h: usize): u32 {
  let e = hubCheck(h);
  if (e != E_OK) return e;
  let n = load<u32>(h + H_COUNT);
  if (n != 0) { gErrDetail = n; return E_BUSY; }
  if (load<u32>(h + H_UP_TX) != 0) { gErrDetail = 0; return E_BUSY; } // detach the uplink first
  lookup(h, K_NIC);
  freeLookedUp();
  return E_OK;
}

/** Creates a NIC with the given ring sizes (powers of two, checked by src/). 0: no memory. */
export function nicCreate(tcbCap: u32, rcbCap: u32, adapter: u32): usize {
  if (tcbCap == 0 || tcbCap > NIC_MAX_RING || (tcbCap & (tcbCap - 1)) != 0) return 0;
  if (rcbCap == 0 || rcbCap > NIC_MAX_RING || (rcbCap & (rcbCap - 1)) != 0) return 0;
  let bytes = N_RINGS + ((tcbCap + 2 * rcbCap) << 2);
  let n = memAlloc(K_NIC, TAG_VNIC, bytes, 1, 0);
  if (n == 0) return 0;
  memory.fill(n, 0, N_RINGS);
  nSet(n, N_TYPE, NIC_T_NIC);
  nSet(n, N_TCB_CAP, tcbCap);
  nSet(n, N_RCB_CAP, rcbCap);
  nSet(n, N_ADAPTER, adapter);
  return n;
}

/** Checks a NIC handle. */
export function nicCheck(n: usize): u32 { return recordCheck(n, NIC_T_NIC, 0); }

/** NBLs the NIC holds: queued or on TCBs (sends), posted or filled (receives). */
export function nicHeld(n: usize): u32 {
  let sends: u32 = 0;
  for (let p = <usize>nU32(n, N_WAIT_HEAD); p != 0; p = <usize>load<u32>(p + NBL_NEXT)) sends++;
  return sends + (nU32(n, N_TCB_PROD) - nU32(n, N_TCB_CONS)) + (nU32(n, N_RCB_PROD) - nU32(n, N_RCB_CONS))
    + (nU32(n, N_RX_PROD) - nU32(n, N_RX_CONS)) + nU32(n, N_DONE_COUNT) + nU32(n, N_RXC_COUNT);
}

/** Destroys a NIC: it must be off its hub and hold no NBL (E_BUSY, detail = NBLs held). */
export function nicDestroy(n: usize): u32 {
  let e = nicCheck(n);
  if (e != E_OK) return e;
  let held = nicHeld(n);
  if (nU32(n, N_HUB) != 0 || held != 0) { gErrDetail = held; return E_BUSY; }
  lookup(n, K_NIC);
  freeLookedUp();
  return E_OK;
}

/** Attaches a NIC to a hub (at the end of its list). */
export function nicAttach(n: usize, h: usize): u32 {
  let e = nicCheck(n);
  if (e != E_OK) return e;
  e = hubCheck(h);
  if (e != E_OK) return argErr(1, e & 7);
  if (nU32(n, N_HUB) != 0) { gErrDetail = 0; return E_BUSY; }
  nSet(n, N_HUB, <u32>h);
  nSet(n, N_NEXT, 0);
  let p = <usize>load<u32>(h + H_FIRST);
  if (p == 0) store<u32>(h + H_FIRST, <u32>n);
  else {
    while (nU32(p, N_NEXT) != 0) p = <usize>nU32(p, N_NEXT);
    nSet(p, N_NEXT, <u32>n);
  }
  store<u32>(h + H_COUNT, load<u32>(h + H_COUNT) + 1);
  return E_OK;
}

/** Detaches a NIC from its hub (no-op when on none). */
export function nicDetach(n: usize): u32 {
  let e = nicCheck(n);
  if (e != E_OK) return e;
  let h = <usize>nU32(n, N_HUB);
  if (h == 0) return E_OK;
  let p = <usize>load<u32>(h + H_FIRST);
  if (p == n) store<u32>(h + H_FIRST, nU32(n, N_NEXT));
  else {
    while (p != 0 && nU32(p, N_NEXT) != <u32>n) p = <usize>nU32(p, N_NEXT);
    if (p != 0) nSet(p, N_NEXT, nU32(n, N_NEXT));
  }
  store<u32>(h + H_COUNT, load<u32>(h + H_COUNT) - 1);
  nSet(n, N_HUB, 0);
  nSet(n, N_NEXT, 0);
  return E_OK;
}

/** Sets the NIC's ready flag (a NIC that is not ready receives nothing). */
export function nicSetReady(n: usize, ready: u32): u32 {
  let e = nicCheck(n);
  if (e != E_OK) return e;
  nSet(n, N_FLAGS, ready ? (nU32(n, N_FLAGS) | NICF_READY) : (nU32(n, N_FLAGS) & ~NICF_READY));
  return E_OK;
}

/**
 * Posts a receive NBL as a free RCB. It must be a live NBL whose first NB's first MDL holds at
 * least NIC_MAX_FRAME bytes (E_NB_RANGE otherwise); E_BUSY when the RCB ring is full.
 */
export function nicPostRecv(n: usize, nbl: usize): u32 {
  let e = nicCheck(n);
  if (e != E_OK) return e;
  e = lookup(nbl, K_NBL);
  if (e != E_OK) return argErr(1, e);
  let nb = <usize>load<u32>(nbl + NBL_FIRST_NB);
  let mdl: usize = nb == 0 ? 0 : <usize>load<u32>(nb + NB_MDL_CHAIN);
  if (mdl == 0 || load<u32>(mdl + MDL_BYTE_COUNT) < NIC_MAX_FRAME) { gErrPtr = nbl; gErrDetail = mdl == 0 ? 0 : load<u32>(mdl + MDL_BYTE_COUNT); return E_NB_RANGE; }
  let prod = nU32(n, N_RCB_PROD);
  let used = prod - nU32(n, N_RCB_CONS) + (nU32(n, N_RX_PROD) - nU32(n, N_RX_CONS));
  if (used >= nU32(n, N_RCB_CAP)) { gErrDetail = used; return E_BUSY; }
  store<u32>(rcbSlot(n, prod), <u32>nbl);
  nSet(n, N_RCB_PROD, prod + 1);
  return E_OK;
}

/**
 * Posts every NBL of the Next-linked chain at `head`, in order, as nicPostRecv would (one call
 * for a whole MiniportReturnNetBufferLists). Returns how many, or 0x80000000 | the error of the
 * first NBL that could not be posted; those before it stay posted, and their number is left in
 * gErrDetail.
 */
export function nicPostRecvChain(n: usize, head: usize): u32 {
  let posted: u32 = 0;
  for (let p = head; p != 0; ) {
    let next = <usize>load<u32>(p + NBL_NEXT);
    let e = nicPostRecv(n, p);
    if (e != E_OK) {
      gErrDetail = posted;
      return 0x80000000 | e;
    }
    posted++;
    p = next;
  }
  return posted;
}

/** Appends `nbl` to the send-complete chain. */
function complete(n: usize, nbl: usize): void {
  chainAppend(n, N_DONE_HEAD, nbl);
  nAdd64(n, N_SENDS_DONE, 1);
}

// The send-complete and receive chains are each three words: head, tail, count (at `at`).
/** Appends `nbl` to the chain at offset `at` of NIC `n`. */
function chainAppend(n: usize, at: u32, nbl: usize): void {
  store<u32>(nbl + NBL_NEXT, 0);
  let tail = <usize>nU32(n, at + 4);
  if (tail != 0) store<u32>(tail + NBL_NEXT, <u32>nbl);
  else nSet(n, at, <u32>nbl);
  nSet(n, at + 4, <u32>nbl);
  nSet(n, at + 8, nU32(n, at + 8) + 1);
}

/** Takes the chain at offset `at` of NIC `n` (head; gErrDetail = count) and empties it. */
function chainTake(n: usize, at: u32): usize {
  let head = <usize>nU32(n, at);
  gErrDetail = nU32(n, at + 8);
  nSet(n, at, 0);
  nSet(n, at + 4, 0);
  nSet(n, at + 8, 0);
  return head;
}

/**
 * Queues a chain of NBLs for transmission (the miniport's send handler). Every NBL is checked
 * first (live, no loop): on a bad one nothing is queued. Each NBL's Status becomes SUCCESS and
 * its reference count the number of its NBs (an NBL without NBs completes at once).
 * Returns E_OK; gErrDetail = NBLs queued.
 */
export function nicSend(n: usize, head: usize): u32 {
  let e = nicCheck(n);
  if (e != E_OK) return e;
  e = nblChainCheck(head, false);
  if (e != E_OK) return e >= 40 ? e : argErr(1, e & 7);
  gImmHead = 0;
  gImmTail = 0;
  let count: u32 = 0;
  let p = head;
  while (p != 0) {
    let next = <usize>load<u32>(p + NBL_NEXT);
    store<u32>(p + NBL_STATUS, 0);
    let refs: u32 = 0;
    for (let nb = <usize>load<u32>(p + NBL_FIRST_NB); nb != 0; nb = <usize>load<u32>(nb + NB_NEXT)) {
      store<u32>(nb + NB_MINIPORT_RESERVED + 8, <u32>p);
      refs++;
    }
    store<u32>(nblRefs(p), refs);
    nAdd64(n, N_SENDS_QUEUED, 1);
    if (refs == 0) {
      // Nothing to transmit: it completes at once, in a chain of its own (nicTakeImmediate),
      // not in the send-complete chain a DPC pass is building.
      store<u32>(p + NBL_NEXT, 0);
      if (gImmTail != 0) store<u32>(gImmTail + NBL_NEXT, <u32>p);
      else gImmHead = p;
      gImmTail = p;
      nAdd64(n, N_SENDS_DONE, 1);
    } else {
      store<u32>(p + NBL_NEXT, 0);
      let tail = <usize>nU32(n, N_WAIT_TAIL);
      if (tail != 0) store<u32>(tail + NBL_NEXT, <u32>p);
      else nSet(n, N_WAIT_HEAD, <u32>p);
      nSet(n, N_WAIT_TAIL, <u32>p);
    }
    count++;
    p = next;
  }
  gErrDetail = count;
  return E_OK;
}

let gImmHead: usize = 0;
let gImmTail: usize = 0;

/** Takes the chain of NBLs the last nicSend completed at once (no NBs), or 0. */
export function nicTakeImmediate(): usize {
  let h = gImmHead;
  gImmHead = 0;
  gImmTail = 0;
  return h;
}

/** Drops one NB reference of `nbl`; the last completes it. */
function release(n: usize, nbl: usize): void {
  let r = load<u32>(nblRefs(nbl)) - 1;
  store<u32>(nblRefs(nbl), r);
  if (r == 0) complete(n, nbl);
}

/** Takes the next NB to transmit off the wait list (0: none). */
function nextNb(n: usize): usize {
  let head = <usize>nU32(n, N_WAIT_HEAD);
  if (head == 0) return 0;
  let cur = <usize>nU32(n, N_CUR_NB);
  let nb = cur != 0 ? cur : <usize>load<u32>(head + NBL_FIRST_NB);
  let after = <usize>load<u32>(nb + NB_NEXT);
  if (after != 0) nSet(n, N_CUR_NB, <u32>after);
  else {
    // The head NBL has no more NBs to transmit: unlink it (it stays referenced by its TCBs).
    let next = <usize>load<u32>(head + NBL_NEXT);
    nSet(n, N_WAIT_HEAD, <u32>next);
    if (next == 0) nSet(n, N_WAIT_TAIL, 0);
    nSet(n, N_CUR_NB, 0);
  }
  return nb;
}

/**
 * Copies the used data of `nb` (at most NIC_MAX_FRAME bytes, zero-padded to NIC_MIN_FRAME)
 * into the first MDL of receive NBL `rx`'s NB and sets that NB to describe exactly the frame.
 */
function dmaInto(nb: usize, len: u32, rx: usize): void {
  let rnb = <usize>load<u32>(rx + NBL_FIRST_NB);
  let rmdl = <usize>load<u32>(rnb + NB_MDL_CHAIN);
  setFrame(rnb, rmdl, copyFrame(nb, len, mdlVa(rmdl)));
}

/** Makes receive NB `rnb` describe the `len` bytes at the start of its MDL `rmdl`. */
// @ts-ignore: decorator
@inline function setFrame(rnb: usize, rmdl: usize, len: u32): void {
  store<u32>(rnb + NB_CURRENT_MDL, <u32>rmdl);
  store<u32>(rnb + NB_CURRENT_MDL_OFFSET, 0);
  store<u32>(rnb + NB_DATA_OFFSET, 0);
  store<u32>(rnb + NB_DATA_LENGTH, len);
}

/**
 * Copies the used data of `nb` (at most NIC_MAX_FRAME bytes, zero-padded to NIC_MIN_FRAME) to
 * `dst`. Returns the frame's length.
 */
function copyFrame(nb: usize, len: u32, dst: usize): u32 {
  let m = <usize>load<u32>(nb + NB_CURRENT_MDL);
  let o = load<u32>(nb + NB_CURRENT_MDL_OFFSET);
  let want = min<u32>(len, NIC_MAX_FRAME);
  let done: u32 = 0;
  while (done < want && m != 0) {
    let k = min<u32>(load<u32>(m + MDL_BYTE_COUNT) - o, want - done);
    memory.copy(dst + done, mdlVa(m) + o, k);
    done += k;
    m = <usize>load<u32>(m + MDL_NEXT);
    o = 0;
  }
  if (done < NIC_MIN_FRAME) { memory.fill(dst + done, 0, NIC_MIN_FRAME - done); done = NIC_MIN_FRAME; }
  return done;
}

/** Transmits one NB from NIC `n`: to every other ready NIC on its hub. */
function transmit(n: usize, nb: usize): void {
  let nbl = nbOwner(nb);
  // A frame needs its Ethernet header, inside a consistent MDL chain.
  let len = load<u32>(nb + NB_DATA_LENGTH);
  if (nbAndChain(nb) != E_OK || len < NIC_HEADER || load<u32>(nb + NB_MDL_CHAIN) == 0) {
    store<u32>(nbl + NBL_STATUS, STATUS_INVALID_DATA);
    nAdd64(n, N_TX_ERRORS, 1);
    return;
  }
  let sent = max<u32>(min<u32>(len, NIC_MAX_FRAME), NIC_MIN_FRAME);
  nAdd64(n, N_TX_FRAMES, 1);
  nAdd64(n, N_TX_BYTES, sent);
  let h = <usize>nU32(n, N_HUB);
  if (h == 0) return; // alone: the frame leaves and nobody hears it
  deliver(h, n, nb, len, 0, sent);
  if (load<u32>(h + H_UP_TX) != 0) uplinkSend(h, nb, len);
}

/**
 * Puts a frame into a free RCB of every ready NIC of hub `h` but `from`: the data of NB `nb`
 * (`len` bytes of it), or with `nb` 0 the `sent` bytes at `raw` (a frame from the uplink). A
 * NIC without a free RCB drops it and counts it.
 */
function deliver(h: usize, from: usize, nb: usize, len: u32, raw: usize, sent: u32): void {
  for (let r = <usize>load<u32>(h + H_FIRST); r != 0; r = <usize>nU32(r, N_NEXT)) {
    if (r == from || (nU32(r, N_FLAGS) & NICF_READY) == 0) continue;
    let cons = nU32(r, N_RCB_CONS);
    if (cons == nU32(r, N_RCB_PROD)) { nAdd64(r, N_RX_DROPPED, 1); continue; }
    let rx = <usize>load<u32>(rcbSlot(r, cons));
    nSet(r, N_RCB_CONS, cons + 1);
    if (nb != 0) {
      dmaInto(nb, len, rx);
    } else {
      let rnb = <usize>load<u32>(rx + NBL_FIRST_NB);
      let rmdl = <usize>load<u32>(rnb + NB_MDL_CHAIN);
      memory.copy(mdlVa(rmdl), raw, sent);
      setFrame(rnb, rmdl, sent);
    }
    let prod = nU32(r, N_RX_PROD);
    store<u32>(rxSlot(r, prod), <u32>rx);
    nSet(r, N_RX_PROD, prod + 1);
    nAdd64(r, N_RX_FRAMES, 1);
    nAdd64(r, N_RX_BYTES, sent);
  }
}

// ---------------------------------------------------------------------------------------------
// The uplink: a hub in another worker, reached through two SharedRings (xring.ts). A frame
// sent on this hub is also copied into a frame buffer of a shared SlabPool (through this
// worker's cache) and its descriptor {buffer, length} enqueued on the tx ring; the peer's DPC
// dequeues it, delivers it to its own NICs and frees the buffer (to its cache). The sender's NBL
// completes at once, as for local frames: the uplink stores and forwards.
// ---------------------------------------------------------------------------------------------

/** Sends a copy of NB `nb`'s frame up the uplink of hub `h` (dropped when no buffer or no room). */
function uplinkSend(h: usize, nb: usize, len: u32): void {
  let p = wcAlloc(<usize>load<u32>(h + H_UP_CACHE));
  if (p < 0x10000) { // 0 (exhausted) or a cache error (its pool was destroyed)
    store<u32>(h + H_UP_DROPPED, load<u32>(h + H_UP_DROPPED) + 1);
    return;
  }
  let stage = h + H_UP_STAGE;
  store<u32>(stage, <u32>p);
  store<u32>(stage + 4, copyFrame(nb, len, p));
  store<u32>(stage + 8, 0);
  store<u32>(stage + 12, 0);
  store<u32>(stage + 16, 0);
  if (xrEnqueue(<usize>load<u32>(h + H_UP_TX), stage, 1, true) != 1) {
    wcFree(<usize>load<u32>(h + H_UP_CACHE), p);
    store<u32>(h + H_UP_DROPPED, load<u32>(h + H_UP_DROPPED) + 1);
    return;
  }
  store<u32>(h + H_UP_SENT, load<u32>(h + H_UP_SENT) + 1);
}

/**
 * Takes up to `budget` frames off the uplink's rx ring: delivered to the hub's NICs when
 * `deliverThem`, else only freed (draining). Returns how many.
 */
function uplinkReceive(h: usize, budget: u32, deliverThem: bool): u32 {
  let rx = <usize>load<u32>(h + H_UP_RX);
  let cache = <usize>load<u32>(h + H_UP_CACHE);
  let stage = h + H_UP_STAGE;
  let total: u32 = 0;
  while (total < budget) {
    let k = xrDequeue(rx, stage, min<u32>(UPLINK_BURST, budget - total), false);
    if (k == 0 || k > UPLINK_BURST) break; // empty (or a ring that is gone: XR_BAD_HANDLE)
    for (let i: u32 = 0; i < k; i++) {
      let d = stage + <usize>i * RING_DESC_SIZE;
      let p = <usize>load<u32>(d);
      let sent = min<u32>(load<u32>(d + 4), NIC_MAX_FRAME);
      if (deliverThem) deliver(h, 0, 0, 0, p, sent);
      wcFree(cache, p);
    }
    total += k;
  }
  store<u32>(h + H_UP_RECEIVED, load<u32>(h + H_UP_RECEIVED) + total);
  return total;
}

/**
 * Connects hub `h` to a hub in another worker: frames go out on SharedRing `tx` and come in on
 * `rx`, in buffers of the SlabPool whose worker cache is `cache` (objects of at least
 * NIC_MAX_FRAME bytes). `tx` 0 disconnects (drain first with hubUplinkDrain). E_OK, or an error
 * (argument index in the high bits).
 */
export function hubUplink(h: usize, tx: usize, rx: usize, cache: usize): u32 {
  let e = hubCheck(h);
  if (e != E_OK) return e;
  if (tx != 0) {
    e = sharedRingCheck(tx);
    if (e != E_OK) return argErr(1, e & 7);
    e = sharedRingCheck(rx);
    if (e != E_OK) return argErr(2, e & 7);
    if (cacheFrameSize(cache) < NIC_MAX_FRAME) return argErr(3, E_WRONG_KIND);
  } else {
    rx = 0;
    cache = 0;
  }
  store<u32>(h + H_UP_TX, <u32>tx);
  store<u32>(h + H_UP_RX, <u32>rx);
  store<u32>(h + H_UP_CACHE, <u32>cache);
  return E_OK;
}

/** Frees the frames waiting on hub `h`'s uplink rx ring without delivering them. Returns how many. */
export function hubUplinkDrain(h: usize): u32 {
  if (hubCheck(h) != E_OK || load<u32>(h + H_UP_RX) == 0) return 0;
  return uplinkReceive(h, 0xFFFFFFFF, false);
}

/** The send path of one NIC for one DPC: transmit up to `budget` NBs, then complete them. */
function sendPass(n: usize, budget: u32): void {
  let cap = nU32(n, N_TCB_CAP);
  for (let i: u32 = 0; i < budget; i++) {
    let prod = nU32(n, N_TCB_PROD);
    if (prod - nU32(n, N_TCB_CONS) >= cap) break; // no free TCB: the backlog waits
    let nb = nextNb(n);
    if (nb == 0) break;
    transmit(n, nb);
    store<u32>(tcbSlot(n, prod), <u32>nb);
    nSet(n, N_TCB_PROD, prod + 1);
  }
  // The send-complete "interrupt": every busy TCB is done (latency 0), up to the budget.
  let cons = nU32(n, N_TCB_CONS);
  let prod = nU32(n, N_TCB_PROD);
  let k: u32 = 0;
  while (cons != prod && k < budget) {
    release(n, nbOwner(<usize>load<u32>(tcbSlot(n, cons))));
    cons++;
    k++;
  }
  nSet(n, N_TCB_CONS, cons);
}

/** The receive path of one NIC for one DPC: link up to `budget` filled RCBs into the chain. */
function recvPass(n: usize, budget: u32): void {
  let cons = nU32(n, N_RX_CONS);
  let prod = nU32(n, N_RX_PROD);
  let src = nU32(n, N_ADAPTER);
  let k: u32 = 0;
  while (cons != prod && k < budget) {
    let nbl = <usize>load<u32>(rxSlot(n, cons));
    store<u32>(nbl + NBL_STATUS, 0);
    store<u32>(nbl + NBL_SOURCE_HANDLE, src);
    chainAppend(n, N_RXC_HEAD, nbl);
    cons++;
    k++;
  }
  nSet(n, N_RX_CONS, cons);
}

/** Work left on a NIC: sends waiting or in flight, frames not yet indicated. */
// @ts-ignore: decorator
@inline function pending(n: usize): bool {
  return nU32(n, N_WAIT_HEAD) != 0 || nU32(n, N_TCB_PROD) != nU32(n, N_TCB_CONS) || nU32(n, N_RX_PROD) != nU32(n, N_RX_CONS);
}

/**
 * One simulated DPC pass over every NIC of hub `h` (or over NIC `h` alone when it is a NIC):
 * first all send paths (so frames reach the receivers), then all receive paths. Results are
 * left in each NIC's send-complete and receive chains. Returns 1 when work remains, 0 when idle.
 */
export function hubDpc(h: usize, budget: u32): u32 {
  let e = lookup(h, K_NIC);
  if (e != E_OK) return argErr(0, e) | 0x80000000;
  if (load<u32>(h) == NIC_T_NIC) {
    sendPass(h, budget);
    recvPass(h, budget);
    return pending(h) ? 1 : 0;
  }
  for (let n = <usize>load<u32>(h + H_FIRST); n != 0; n = <usize>nU32(n, N_NEXT)) sendPass(n, budget);
  let more: u32 = 0;
  // Frames from the peer hub reach the NICs before their receive paths run.
  if (load<u32>(h + H_UP_RX) != 0 && uplinkReceive(h, budget, true) != 0) more = 1;
  for (let n = <usize>load<u32>(h + H_FIRST); n != 0; n = <usize>nU32(n, N_NEXT)) {
    recvPass(n, budget);
    if (pending(n)) more = 1;
  }
  return more;
}

/** Takes the NIC's send-complete chain (head; gErrDetail = count) and empties it. */
export function nicTakeDone(n: usize): usize {
  return chainTake(n, N_DONE_HEAD);
}

/** Takes the NIC's receive chain (head; gErrDetail = count) and empties it. */
export function nicTakeRx(n: usize): usize {
  return chainTake(n, N_RXC_HEAD);
}

/**
 * Stops the NIC's data path (netvmini NICStopTheDatapath, for pause and halt): queued sends not
 * yet transmitted complete with `status`, sends on TCBs complete, and frames received but not
 * yet indicated are dropped back onto the free RCBs. The completions land in the send-complete
 * chain (take it with nicTakeDone).
 */
export function nicStop(n: usize, status: u32): u32 {
  let e = nicCheck(n);
  if (e != E_OK) return e;
  // Fail the backlog: each untransmitted NB drops its reference.
  let head = <usize>nU32(n, N_WAIT_HEAD);
  let cur = <usize>nU32(n, N_CUR_NB);
  nSet(n, N_WAIT_HEAD, 0);
  nSet(n, N_WAIT_TAIL, 0);
  nSet(n, N_CUR_NB, 0);
  let p = head;
  while (p != 0) {
    let next = <usize>load<u32>(p + NBL_NEXT);
    store<u32>(p + NBL_STATUS, status);
    let nb = p == head && cur != 0 ? cur : <usize>load<u32>(p + NBL_FIRST_NB);
    let refs = load<u32>(nblRefs(p));
    for (; nb != 0; nb = <usize>load<u32>(nb + NB_NEXT)) refs--;
    store<u32>(nblRefs(p), refs);
    if (refs == 0) complete(n, p);
    p = next;
  }
  // In-flight TCBs complete now (the hardware finishes what it started).
  let cons = nU32(n, N_TCB_CONS);
  let prod = nU32(n, N_TCB_PROD);
  while (cons != prod) { release(n, nbOwner(<usize>load<u32>(tcbSlot(n, cons)))); cons++; }
  nSet(n, N_TCB_CONS, cons);
  // Frames received but not indicated go back to the free RCBs.
  let rc = nU32(n, N_RX_CONS);
  let rp = nU32(n, N_RX_PROD);
  while (rc != rp) {
    let nbl = load<u32>(rxSlot(n, rc));
    let fp = nU32(n, N_RCB_PROD);
    store<u32>(rcbSlot(n, fp), nbl);
    nSet(n, N_RCB_PROD, fp + 1);
    rc++;
  }
  nSet(n, N_RX_CONS, rc);
  return E_OK;
}

/** Takes one posted (free) RCB NBL back from the NIC (halt), or 0 when none is left. */
export function nicUnpostRecv(n: usize): usize {
  let cons = nU32(n, N_RCB_CONS);
  if (cons == nU32(n, N_RCB_PROD)) return 0;
  let nbl = <usize>load<u32>(rcbSlot(n, cons));
  nSet(n, N_RCB_CONS, cons + 1);
  return nbl;
}

/**
 * Cancels queued sends whose cancel ID (NetBufferListInfo[NetBufferListCancelId]) is `id` and
 * of which no NB was transmitted yet: they complete with `status`. Returns how many.
 */
export function nicCancel(n: usize, id: u32, status: u32): u32 {
  let e = nicCheck(n);
  if (e != E_OK) return e | 0x80000000;
  let prev: usize = 0;
  let p = <usize>nU32(n, N_WAIT_HEAD);
  let count: u32 = 0;
  while (p != 0) {
    let next = <usize>load<u32>(p + NBL_NEXT);
    let started = prev == 0 && nU32(n, N_CUR_NB) != 0;
    if (!started && load<u32>(p + NBL_INFO + (NBL_INFO_CANCEL_ID << 2)) == id) {
      if (prev == 0) nSet(n, N_WAIT_HEAD, <u32>next);
      else store<u32>(prev + NBL_NEXT, <u32>next);
      if (nU32(n, N_WAIT_TAIL) == <u32>p) nSet(n, N_WAIT_TAIL, <u32>prev);
      store<u32>(p + NBL_STATUS, status);
      store<u32>(nblRefs(p), 0);
      complete(n, p);
      count++;
    } else {
      prev = p;
    }
    p = next;
  }
  return count;
}
