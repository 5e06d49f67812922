/**
 * The virtual NIC (src/vnic.ts over assembly/nic.ts; NDIS-SPEC §9), driven end to end through the
 * NDIS driver model by a small test protocol: it binds to every adapter (BindAdapterHandlerEx →
 * NdisOpenAdapterEx), allocates a send NBL pool (DataSize 1514) with its binding handle, writes
 * real Ethernet frames (dst MAC, src MAC, EtherType, payload pattern) into the NBL data, sends
 * chains with NdisSendNetBufferLists, frees NBLs on send-complete, and on receive copies the frame
 * bytes out and returns the NBLs (or holds them, on request).
 *
 * Covered: byte-for-byte delivery to every other running adapter (never to the sender), padding
 * to 60, INVALID_DATA below 14 and for inconsistent NBs, truncation to 1514, frames over MDL
 * chains with DataOffset, receive flags / SourceHandle / statuses, RCB exhaustion drops, DPC
 * batching and counters, the TCB backlog, pause (queued sends, held receives, paused receivers,
 * frames not yet indicated), cancel, NBLs with several NBs or none, sends from receive handlers,
 * hub isolation, the default hub, failed initialization and teardown, and a fast-check model of
 * random send / DPC / return / pause / restart sequences.
 *
 * Two tests fail on purpose (bugs, see their comments): an NB without MDL chain but with a
 * DataLength is transmitted as 60 zero bytes, and DpcResult.sendsCompleted misses completions
 * taken by a send handler called from inside runDpcs.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import {
  POOL_TAG,
  NdisBugCheck,
  NDIS_STATUS_SUCCESS,
  NDIS_OBJECT_TYPE_DEFAULT,
  NormalPagePriority,
  NormalPoolPriority,
  NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
  NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
  NDIS_OBJECT_TYPE_OPEN_PARAMETERS,
  NDIS_STATUS_PAUSED,
  NDIS_STATUS_SEND_ABORTED,
  NDIS_STATUS_INVALID_DATA,
  NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL,
  NDIS_RECEIVE_FLAGS_PERFECT_FILTERED,
  NDIS_RETURN_FLAGS_DISPATCH_LEVEL,
  NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL,
  NDIS_SEND_FLAGS_DISPATCH_LEVEL,
  type Adapter,
  type Hub,
} from '../build/ts/index.js';
import { type Loose, protocolChars } from './helpers.js';

// -- frames ------------------------------------------------------------------------------------------

const ETHERTYPE = 0x88b5; // IEEE 802 local experimental
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const MIN_FRAME = 60;
const MAX_FRAME = 1514;
const HEADER = 14;
/** The protocol's send NBL pools (poolmon shows the tag in memory order). */
const TAG_SEND = POOL_TAG('tPvT');
const TAG_BIG = POOL_TAG('gBvT');
const TAG_CHAIN = POOL_TAG('cMvT');
/** The virtual miniport's receive NBL pool tag (src/vnic.ts TAG_RECV_NBL). */
const TAG_RECV = POOL_TAG('rMVN');

/**
 * A frame of `len` bytes: dst MAC, src MAC, EtherType, then a 4-byte big-endian sequence number
 * and a payload pattern that never has a zero byte (so zero padding is visible). Frames shorter
 * than the header keep whatever prefix of that layout fits.
 */
function frame(src: readonly number[], seq: number, len: number, dst: readonly number[] = BCAST): Uint8Array {
  const hdr = [...dst, ...src, ETHERTYPE >> 8, ETHERTYPE & 0xff, (seq >>> 24) & 0xff, (seq >>> 16) & 0xff, (seq >>> 8) & 0xff, seq & 0xff];
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = i < hdr.length ? hdr[i]! : ((i * 31 + seq * 7) % 255) + 1;
  return f;
}

/** What the wire delivers for a sent frame: at most 1514 bytes, zero-padded to 60. */
function onWire(f: Uint8Array): Uint8Array {
  const n = Math.max(MIN_FRAME, Math.min(f.length, MAX_FRAME));
  const out = new Uint8Array(n);
  out.set(f.subarray(0, Math.min(f.length, MAX_FRAME)));
  return out;
}

const macOf = (f: Uint8Array) => [...f.subarray(6, 12)];
const seqOf = (f: Uint8Array) => ((f[14]! << 24) | (f[15]! << 16) | (f[16]! << 8) | f[17]!) >>> 0;
const macKey = (m: readonly number[]) => m.map((b) => b.toString(16).padStart(2, '0')).join(':');

// -- the test protocol ---------------------------------------------------------------------------------

interface Rx {
  bytes: Uint8Array;
  nbl: number;
  status: number;
  source: number;
  flags: number;
  port: number;
}

interface Done {
  nbl: number;
  /** Caller's id of the send (its sequence number). */
  id: number;
  status: number;
  flags: number;
}

/** One binding of the test protocol. */
class Bind {
  handle = 0;
  pool = 0;
  bigPool = 0;
  /** Frames received, in arrival order. */
  rx: Rx[] = [];
  /** NumberOfNetBufferLists of each receive indication. */
  calls: number[] = [];
  /** Hold receives instead of returning them from the receive handler. */
  hold = false;
  /** Received NBLs held (not returned). */
  held: number[] = [];
  /** Send completions, in completion order. */
  done: Done[] = [];
  /** Sends outstanding: nbl → id. */
  readonly ids = new Map<number, number>();
  /** NBs the test attached to an NBL itself (freed with it on send-complete). */
  readonly nbsOf = new Map<number, number[]>();
  /** Called in the receive handler after the frames are recorded (at DISPATCH_LEVEL). */
  onReceive: ((rx: Rx[]) => void) | null = null;
  constructor(readonly ctx: number, readonly name: string, readonly mac: number[]) {}
}

class TestProtocol {
  readonly handle: number;
  readonly byCtx = new Map<number, Bind>();
  readonly byName = new Map<string, Bind>();
  private nextCtx = 100;
  /** Initial hold setting of new bindings. */
  holdNew = false;
  /** Bind every binding with a second send pool of DataSize 2000. */
  bigPools = false;

  constructor(readonly rt: NdisRuntime) {
    const r = rt as Loose;
    const out = { value: 0 };
    const s = r.NdisRegisterProtocolDriver(7, protocolChars('VnicTestProt', {
      BindAdapterHandlerEx: (_ctx: number, bindContext: object, params: Loose) => this.bind(bindContext, params),
      UnbindAdapterHandlerEx: (_u: object, ctx: number) => this.unbind(ctx),
      ReceiveNetBufferListsHandler: (ctx: number, nbls: number, port: number, count: number, flags: number) => this.receive(ctx, nbls, port, count, flags),
      SendNetBufferListsCompleteHandler: (ctx: number, nbls: number, flags: number) => this.sendComplete(ctx, nbls, flags),
    }), out);
    expect(s).toBe(NDIS_STATUS_SUCCESS);
    this.handle = out.value;
  }

  private get r(): Loose {
    return this.rt as Loose;
  }

  private pool(binding: number, tag: number, dataSize: number): number {
    const p = this.r.NdisAllocateNetBufferListPool(binding, {
      Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 },
      ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: tag, DataSize: dataSize,
    });
    expect(p).not.toBe(0);
    return p;
  }

  bind(bindContext: object, params: Loose): number {
    const b = new Bind(this.nextCtx++, params.AdapterName, [...params.CurrentMacAddress]);
    const out = { value: 0 };
    const s = this.r.NdisOpenAdapterEx(this.handle, b.ctx, {
      Header: { Type: NDIS_OBJECT_TYPE_OPEN_PARAMETERS, Revision: 1, Size: 0x40 }, AdapterName: params.AdapterName,
    }, bindContext, out);
    if (s !== NDIS_STATUS_SUCCESS) return s;
    b.handle = out.value;
    b.pool = this.pool(b.handle, TAG_SEND, MAX_FRAME);
    if (this.bigPools) b.bigPool = this.pool(b.handle, TAG_BIG, 2000);
    b.hold = this.holdNew;
    this.byCtx.set(b.ctx, b);
    this.byName.set(b.name, b);
    return NDIS_STATUS_SUCCESS;
  }

  unbind(ctx: number): number {
    const b = this.byCtx.get(ctx)!;
    this.returnHeld(b);
    this.r.NdisFreeNetBufferListPool(b.pool);
    if (b.bigPool) this.r.NdisFreeNetBufferListPool(b.bigPool);
    this.r.NdisCloseAdapterEx(b.handle);
    this.byCtx.delete(ctx);
    this.byName.delete(b.name);
    return NDIS_STATUS_SUCCESS;
  }

  receive(ctx: number, nbls: number, port: number, count: number, flags: number): void {
    const r = this.r;
    const b = this.byCtx.get(ctx)!;
    b.calls.push(count);
    const first = b.rx.length;
    let n = 0;
    for (let p = nbls; p !== 0; p = r.NET_BUFFER_LIST_NEXT_NBL(p)) {
      const nb = r.NET_BUFFER_LIST_FIRST_NB(p);
      const mdl = r.NET_BUFFER_CURRENT_MDL(nb);
      const off = r.NET_BUFFER_CURRENT_MDL_OFFSET(nb);
      const len = r.NET_BUFFER_DATA_LENGTH(nb);
      expect(off + len).toBeLessThanOrEqual(r.MmGetMdlByteCount(mdl));
      const va = r.MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
      b.rx.push({
        bytes: this.rt.bytes(va + off, len).slice(), nbl: p, status: r.NET_BUFFER_LIST_STATUS(p),
        source: r.NET_BUFFER_LIST_SOURCE_HANDLE(p), flags, port,
      });
      if (b.hold) b.held.push(p);
      n++;
    }
    expect(n).toBe(count);
    b.onReceive?.(b.rx.slice(first));
    if (!b.hold) r.NdisReturnNetBufferLists(b.handle, nbls, flags & NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL ? NDIS_RETURN_FLAGS_DISPATCH_LEVEL : 0);
  }

  sendComplete(ctx: number, nbls: number, flags: number): void {
    const r = this.r;
    const b = this.byCtx.get(ctx)!;
    for (let p = nbls; p !== 0; ) {
      const next = r.NET_BUFFER_LIST_NEXT_NBL(p);
      const id = b.ids.get(p);
      expect(id, `completion of an NBL this binding did not send (${p})`).not.toBeUndefined();
      b.ids.delete(p);
      b.done.push({ nbl: p, id: id!, status: r.NET_BUFFER_LIST_STATUS(p), flags });
      const nbs = b.nbsOf.get(p);
      if (nbs) {
        b.nbsOf.delete(p);
        r.NET_BUFFER_LIST_FIRST_NB_SET(p, 0);
        for (const nb of nbs) r.NdisFreeNetBuffer(nb);
      }
      r.NdisFreeNetBufferList(p);
      p = next;
    }
  }

  /** Returns every held receive of `b` (one chain). */
  returnHeld(b: Bind): number {
    const r = this.r;
    const held = b.held;
    if (held.length === 0) return 0;
    b.held = [];
    for (let i = 0; i < held.length; i++) r.NET_BUFFER_LIST_NEXT_NBL_SET(held[i], i + 1 < held.length ? held[i + 1] : 0);
    r.NdisReturnNetBufferLists(b.handle, held[0], 0);
    return held.length;
  }

  /** An NBL holding `f` (from the DataSize-2000 pool when `big`). */
  nblFor(b: Bind, f: Uint8Array, big = false): number {
    const r = this.r;
    const nbl = r.NdisAllocateNetBufferList(big ? b.bigPool : b.pool, 0, 0);
    expect(nbl).not.toBe(0);
    const nb = r.NET_BUFFER_LIST_FIRST_NB(nbl);
    const mdl = r.NET_BUFFER_FIRST_MDL(nb);
    const va = r.MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
    this.rt.bytes(va, f.length).set(f);
    r.NET_BUFFER_DATA_LENGTH_SET(nb, f.length);
    return nbl;
  }

  /**
   * Sends `frames` on binding `b` as one chain (or one call each with `single`), ids = their
   * sequence numbers; `cancel[i]` sets a cancel ID on frame i.
   */
  send(b: Bind, frames: { f: Uint8Array; id: number; cancel?: number; big?: boolean }[], { single = false, flags = 0 } = {}): number[] {
    const r = this.r;
    const nbls = frames.map(({ f, id, cancel, big }) => {
      const n = this.nblFor(b, f, big);
      if (cancel !== undefined) r.NDIS_SET_NET_BUFFER_LIST_CANCEL_ID(n, cancel);
      b.ids.set(n, id);
      return n;
    });
    if (single) {
      for (const n of nbls) r.NdisSendNetBufferLists(b.handle, n, 0, flags);
    } else if (nbls.length) {
      for (let i = 0; i < nbls.length; i++) r.NET_BUFFER_LIST_NEXT_NBL_SET(nbls[i], i + 1 < nbls.length ? nbls[i + 1] : 0);
      r.NdisSendNetBufferLists(b.handle, nbls[0], 0, flags);
    }
    return nbls;
  }
}

// -- worlds --------------------------------------------------------------------------------------------

interface World {
  rt: NdisRuntime;
  p: TestProtocol;
  drv: number;
  hub: Hub;
  adapters: Adapter[];
  /** The binding on adapter i. */
  b(i: number): Bind;
  /** Sends `sizes` frames from adapter i (sequence numbers from `seq`). */
  send(i: number, sizes: number[], seq?: number, opts?: { single?: boolean; cancel?: (k: number) => number | undefined }): Uint8Array[];
  c(i: number): Loose;
}

function world(
  { n = 3, tcbCount, rcbCount, hold = false, bigPools = false, names }:
  { n?: number; tcbCount?: number; rcbCount?: number; hold?: boolean; bigPools?: boolean; names?: string[] } = {},
): World {
  const rt = createRuntimeSync();
  const p = new TestProtocol(rt);
  p.holdNew = hold;
  p.bigPools = bigPools;
  const opts: Record<string, number> = {};
  if (tcbCount !== undefined) opts.tcbCount = tcbCount;
  if (rcbCount !== undefined) opts.rcbCount = rcbCount;
  const drv = rt.registerVirtualMiniport(opts);
  const hub = rt.createHub('hub 1')!;
  const nm = names ?? Array.from({ length: n }, (_, i) => `vnic${i}`);
  const adapters = nm.map((name) => rt.createAdapter(drv, { name, hub })!);
  for (const a of adapters) {
    expect(a).not.toBeNull();
    expect(a.state).toBe('running');
    expect(a.bindings.length).toBe(1);
  }
  const w: World = {
    rt, p, drv, hub, adapters,
    b: (i) => p.byName.get(adapters[i]!.name)!,
    send(i, sizes, seq = 0, o = {}) {
      const b = w.b(i);
      const fs = sizes.map((len, k) => frame(b.mac, seq + k, len));
      p.send(b, fs.map((f, k) => ({ f, id: seq + k, cancel: o.cancel?.(k) })), { single: o.single });
      return fs;
    },
    c: (i) => rt.nicCounters(adapters[i]!.handle)!,
  };
  return w;
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
const wireBytes = (sizes: number[]) => sum(sizes.filter((l) => l >= HEADER).map((l) => Math.max(MIN_FRAME, Math.min(l, MAX_FRAME))));

// -- delivery ------------------------------------------------------------------------------------------

describe('delivery on the hub', () => {
  it('frames sent on one adapter arrive byte-for-byte at every other running adapter, never at the sender', () => {
    const w = world({ n: 3 });
    const sizes = [60, 61, 64, 100, 128, 333, 512, 999, 1000, 1500, 1513, 1514];
    const sent = [
      w.send(0, sizes, 0),
      w.send(1, [...sizes].reverse(), 1000),
      w.send(2, sizes.map((s, i) => (i % 2 ? s : 60 + ((s * 7) % 1455))), 2000),
    ];
    const r = w.rt.runDpcs();
    expect(r.sendsCompleted).toBe(3 * sizes.length);
    expect(r.receivesIndicated).toBe(6 * sizes.length);
    for (let j = 0; j < 3; j++) {
      const b = w.b(j);
      // Per sender, in send order, byte-for-byte.
      for (let i = 0; i < 3; i++) {
        const got = b.rx.filter((x) => macKey(macOf(x.bytes)) === macKey(w.b(i).mac)).map((x) => x.bytes);
        if (i === j) {
          expect(got.length, `adapter ${j} heard its own frames`).toBe(0);
          continue;
        }
        expect(got.length).toBe(sent[i]!.length);
        got.forEach((g, k) => expect(g).toEqual(onWire(sent[i]![k]!)));
      }
      expect(b.rx.length).toBe(2 * sizes.length);
      // Every send completed with SUCCESS, in order.
      expect(b.done.map((d) => d.status)).toEqual(sizes.map(() => NDIS_STATUS_SUCCESS));
      expect(b.done.map((d) => d.id)).toEqual(sizes.map((_, k) => j * 1000 + k));
    }
    // The frames carry the adapters' MAC addresses (from the bind parameters).
    for (let i = 0; i < 3; i++) expect(w.b(i).mac).toEqual(w.adapters[i]!.macAddress);
    for (let i = 0; i < 3; i++) {
      const c = w.c(i);
      const mine = sent[i]!.map((f) => f.length);
      const others = sent.filter((_, k) => k !== i).flat().map((f) => f.length);
      expect(c).toMatchObject({
        framesSent: sizes.length, bytesSent: wireBytes(mine), framesReceived: 2 * sizes.length, bytesReceived: wireBytes(others),
        framesDropped: 0, sendErrors: 0, sendsQueued: sizes.length, sendsCompleted: sizes.length, receivesOutstanding: 0,
      });
    }
  });

  it('every size 60..1514 arrives intact (one sender, two receivers)', () => {
    const w = world({ n: 3, rcbCount: 2048 });
    const sizes = Array.from({ length: MAX_FRAME - MIN_FRAME + 1 }, (_, i) => MIN_FRAME + i);
    const sent = w.send(0, sizes, 0);
    w.rt.runDpcs();
    for (const j of [1, 2]) {
      const b = w.b(j);
      expect(b.rx.length).toBe(sizes.length);
      let bad = 0;
      b.rx.forEach((x, k) => {
        const want = sent[k]!;
        if (x.bytes.length !== want.length || !x.bytes.every((v, i) => v === want[i])) bad++;
      });
      expect(bad).toBe(0);
    }
    expect(w.c(0).bytesSent).toBe(sum(sizes));
    expect(w.c(1).bytesReceived).toBe(sum(sizes));
  });

  it('a frame shorter than 60 (but >= 14) is padded with zeros to 60', () => {
    const w = world({ n: 2 });
    const sizes = [14, 15, 17, 18, 20, 42, 59];
    const sent = w.send(0, sizes);
    w.rt.runDpcs();
    const rx = w.b(1).rx;
    expect(rx.map((x) => x.bytes.length)).toEqual(sizes.map(() => 60));
    rx.forEach((x, k) => {
      expect(x.bytes.subarray(0, sizes[k])).toEqual(sent[k]);
      expect([...x.bytes.subarray(sizes[k])].every((v) => v === 0)).toBe(true);
      expect(x.bytes).toEqual(onWire(sent[k]!));
    });
    expect(w.c(0)).toMatchObject({ framesSent: 7, bytesSent: 7 * 60, sendErrors: 0 });
    expect(w.c(1)).toMatchObject({ framesReceived: 7, bytesReceived: 7 * 60 });
    expect(w.b(0).done.every((d) => d.status === NDIS_STATUS_SUCCESS)).toBe(true);
  });

  it('padding overwrites what a reused receive buffer held before (rcbCount 1)', () => {
    const w = world({ n: 2, rcbCount: 1 });
    // Fill the only receive buffer with a full-size frame, then send a runt into the same buffer.
    w.send(0, [1514], 0);
    w.rt.runDpcs();
    const runt = w.send(0, [20], 1);
    w.rt.runDpcs();
    const rx = w.b(1).rx;
    expect(rx.length).toBe(2);
    expect(rx[1]!.nbl).toBe(rx[0]!.nbl); // the same RCB NBL
    expect(rx[1]!.bytes).toEqual(onWire(runt[0]!));
  });

  it('a frame shorter than 14 fails with NDIS_STATUS_INVALID_DATA and counts a send error', () => {
    const w = world({ n: 3 });
    // A valid frame on each side of the bad ones, in one chain.
    const sent = w.send(0, [64, 13, 0, 1, 64], 0);
    w.rt.runDpcs();
    expect(w.b(0).done.map((d) => [d.id, d.status])).toEqual([
      [0, NDIS_STATUS_SUCCESS], [1, NDIS_STATUS_INVALID_DATA], [2, NDIS_STATUS_INVALID_DATA], [3, NDIS_STATUS_INVALID_DATA], [4, NDIS_STATUS_SUCCESS],
    ]);
    for (const j of [1, 2]) {
      expect(w.b(j).rx.map((x) => x.bytes)).toEqual([onWire(sent[0]!), onWire(sent[4]!)]);
      expect(w.c(j)).toMatchObject({ framesReceived: 2, bytesReceived: 128, framesDropped: 0 });
    }
    expect(w.c(0)).toMatchObject({ framesSent: 2, bytesSent: 128, sendErrors: 3, sendsQueued: 5, sendsCompleted: 5 });
  });

  it('an inconsistent NB (DataLength beyond its MDL chain) fails with INVALID_DATA and counts a send error', () => {
    const w = world({ n: 2 });
    const r = w.rt as Loose;
    const b = w.b(0);
    const f = frame(b.mac, 1, 1514);
    const nbl = w.p.nblFor(b, f);
    r.NET_BUFFER_DATA_LENGTH_SET(r.NET_BUFFER_LIST_FIRST_NB(nbl), 1515); // the MDL holds 1514
    b.ids.set(nbl, 1);
    r.NdisSendNetBufferLists(b.handle, nbl, 0, 0);
    w.rt.runDpcs();
    expect(b.done.map((d) => d.status)).toEqual([NDIS_STATUS_INVALID_DATA]);
    expect(w.b(1).rx.length).toBe(0);
    expect(w.c(0)).toMatchObject({ framesSent: 0, bytesSent: 0, sendErrors: 1, sendsQueued: 1, sendsCompleted: 1 });
  });

  it('an NB without an MDL chain but with a DataLength fails with INVALID_DATA (no frame of zeros)', () => {
    // A DataSize-0 pool with fAllocateNetBuffer: the preallocated NB has no MDL. Setting its
    // DataLength makes the NB inconsistent (NB-CONS: no bytes described), yet nic.ts transmit()
    // accepts it: dataspace.ts nbAndChain() returns E_OK for MdlChain NULL without checking
    // DataOffset + DataLength, and dmaInto() copies nothing and pads 60 zero bytes.
    const w = world({ n: 2 });
    const r = w.rt as Loose;
    const b = w.b(0);
    const pool = r.NdisAllocateNetBufferListPool(b.handle, {
      Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: 1, Size: 16 }, ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: TAG_CHAIN, DataSize: 0,
    });
    const nbl = r.NdisAllocateNetBufferList(pool, 0, 0);
    const nb = r.NET_BUFFER_LIST_FIRST_NB(nbl);
    expect(r.NET_BUFFER_FIRST_MDL(nb)).toBe(0);
    r.NET_BUFFER_DATA_LENGTH_SET(nb, 100);
    b.ids.set(nbl, 1);
    r.NdisSendNetBufferLists(b.handle, nbl, 0, 0);
    w.rt.runDpcs();
    const got = w.b(1).rx.map((x) => x.bytes.length);
    const c0 = w.c(0);
    const c1 = w.c(1);
    r.NdisFreeNetBufferListPool(pool);
    expect({ status: b.done[0]!.status, received: got, sent: c0.framesSent, errors: c0.sendErrors, bytesSent: c0.bytesSent, bytesReceived: c1.bytesReceived })
      .toEqual({ status: NDIS_STATUS_INVALID_DATA, received: [], sent: 0, errors: 1, bytesSent: 0, bytesReceived: 0 });
  });

  it('frames longer than 1514 are cut to 1514 (NB of 1515..2000 bytes)', () => {
    const w = world({ n: 2, bigPools: true });
    const b = w.b(0);
    const sizes = [1515, 1600, 2000];
    const fs = sizes.map((len, k) => frame(b.mac, k, len));
    w.p.send(b, fs.map((f, k) => ({ f, id: k, big: true })));
    w.rt.runDpcs();
    const rx = w.b(1).rx;
    expect(rx.map((x) => x.bytes.length)).toEqual([1514, 1514, 1514]);
    rx.forEach((x, k) => expect(x.bytes).toEqual(fs[k]!.subarray(0, 1514)));
    expect(w.c(0)).toMatchObject({ framesSent: 3, bytesSent: 3 * 1514, sendErrors: 0 });
    expect(w.c(1)).toMatchObject({ framesReceived: 3, bytesReceived: 3 * 1514 });
    expect(b.done.map((d) => d.status)).toEqual([0, 0, 0]);
  });

  it('the frame starts at CurrentMdl/CurrentMdlOffset of a two-MDL chain with DataOffset', () => {
    const w = world({ n: 2 });
    const r = w.rt as Loose;
    const b = w.b(0);
    const pool = r.NdisAllocateNetBufferListPool(b.handle, {
      Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: 1, Size: 16 }, ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: TAG_CHAIN, DataSize: 0,
    });
    const mem = r.NdisAllocateMemoryWithTagPriority(b.handle, 1200, TAG_CHAIN, NormalPoolPriority);
    const m1 = r.NdisAllocateMdl(b.handle, mem, 100);
    const m2 = r.NdisAllocateMdl(b.handle, mem + 100, 1100);
    r.NDIS_MDL_LINKAGE_SET(m1, m2);
    // Used data: 500 bytes from offset 70 (30 bytes in the first MDL, 470 in the second).
    const f = frame(b.mac, 9, 500);
    w.rt.bytes(mem, 1200).fill(0xee);
    w.rt.bytes(mem + 70, 500).set(f);
    const nbl = r.NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, m1, 70, 500);
    expect(nbl).not.toBe(0);
    b.ids.set(nbl, 9);
    r.NdisSendNetBufferLists(b.handle, nbl, 0, 0);
    w.rt.runDpcs();
    expect(w.b(1).rx.map((x) => x.bytes)).toEqual([f]);
    expect(b.done.map((d) => d.status)).toEqual([NDIS_STATUS_SUCCESS]);
    // The same chain advanced past the first MDL entirely (offset 130, 300 bytes).
    const g = frame(b.mac, 10, 300);
    w.rt.bytes(mem + 130, 300).set(g);
    const nbl2 = r.NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, m1, 130, 300);
    b.ids.set(nbl2, 10);
    r.NdisSendNetBufferLists(b.handle, nbl2, 0, 0);
    w.rt.runDpcs();
    expect(w.b(1).rx.map((x) => x.bytes)).toEqual([f, g]);
    r.NdisFreeNetBufferListPool(pool);
    r.NdisFreeMdl(m2);
    r.NdisFreeMdl(m1);
    r.NdisFreeMemoryWithTagPriority(b.handle, mem, TAG_CHAIN);
  });

  it('receive flags, SourceHandle, port and statuses', () => {
    const w = world({ n: 3 });
    w.send(0, [60, 70, 80], 0);
    w.send(2, [90], 10);
    w.rt.runDpcs();
    for (let j = 0; j < 3; j++) {
      const b = w.b(j);
      expect(b.rx.length).toBeGreaterThan(0);
      for (const x of b.rx) {
        expect(x.flags).toBe(NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL | NDIS_RECEIVE_FLAGS_PERFECT_FILTERED);
        expect(x.source).toBe(w.adapters[j]!.handle);
        expect(x.status).toBe(NDIS_STATUS_SUCCESS);
        expect(x.port).toBe(0);
      }
    }
    for (const j of [0, 2]) {
      for (const d of w.b(j).done) {
        expect(d.status).toBe(NDIS_STATUS_SUCCESS);
        expect(d.flags & NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL).toBe(NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL);
      }
    }
    // Nothing is left at the miniports.
    for (const a of w.adapters) expect(a.outstanding).toEqual({ sends: 0, receives: 0 });
  });

  it('an adapter alone on its hub transmits into the void: sends complete, frames counted as sent', () => {
    const w = world({ n: 1 });
    w.send(0, [60, 100, 1514]);
    w.rt.runDpcs();
    expect(w.b(0).done.map((d) => d.status)).toEqual([0, 0, 0]);
    expect(w.c(0)).toMatchObject({ framesSent: 3, bytesSent: 1674, framesReceived: 0, sendsQueued: 3, sendsCompleted: 3 });
  });
});

// -- receive resources ---------------------------------------------------------------------------------

describe('receive descriptors', () => {
  it('rcbCount 8 and a protocol that holds receives: 20 frames give 8 received and 12 dropped; returning them lets frames in again', () => {
    const w = world({ n: 2, rcbCount: 8, hold: true });
    const sent = w.send(0, Array.from({ length: 20 }, (_, i) => 60 + i), 0);
    w.rt.runDpcs();
    const b1 = w.b(1);
    expect(b1.rx.length).toBe(8);
    expect(b1.held.length).toBe(8);
    // The first 8 frames got the descriptors.
    b1.rx.forEach((x, k) => expect(x.bytes).toEqual(onWire(sent[k]!)));
    expect(w.c(1)).toMatchObject({ framesReceived: 8, framesDropped: 12, bytesReceived: sum(sent.slice(0, 8).map((f) => f.length)), receivesOutstanding: 8 });
    expect(w.c(0)).toMatchObject({ framesSent: 20, sendsQueued: 20, sendsCompleted: 20 });
    expect(w.b(0).done.every((d) => d.status === NDIS_STATUS_SUCCESS)).toBe(true);
    expect(w.adapters[1]!.outstanding.receives).toBe(8);
    // Still full: more frames are dropped.
    w.send(0, [64, 64], 100);
    w.rt.runDpcs();
    expect(w.c(1)).toMatchObject({ framesReceived: 8, framesDropped: 14 });
    // Return them: frames arrive again.
    expect(w.p.returnHeld(b1)).toBe(8);
    expect(w.c(1).receivesOutstanding).toBe(0);
    const more = w.send(0, [100, 200, 300, 400, 500], 200);
    w.rt.runDpcs();
    expect(b1.rx.slice(8).map((x) => x.bytes)).toEqual(more.map(onWire));
    expect(w.c(1)).toMatchObject({ framesReceived: 13, framesDropped: 14, receivesOutstanding: 5 });
    w.p.returnHeld(b1);
  });

  it('the rcbCount of createAdapter overrides the miniport default, per adapter', () => {
    const rt = createRuntimeSync();
    const p = new TestProtocol(rt);
    p.holdNew = true;
    const drv = rt.registerVirtualMiniport({ rcbCount: 4 });
    const hub = rt.createHub()!;
    const a = rt.createAdapter(drv, { name: 'tx', hub })!;
    const small = rt.createAdapter(drv, { name: 'small', hub })!;
    const big = rt.createAdapter(drv, { name: 'big', hub, rcbCount: 16 })!;
    const b = p.byName.get('tx')!;
    p.send(b, Array.from({ length: 10 }, (_, k) => ({ f: frame(b.mac, k, 100), id: k })));
    rt.runDpcs();
    expect(rt.nicCounters(small.handle)).toMatchObject({ framesReceived: 4, framesDropped: 6 });
    expect(rt.nicCounters(big.handle)).toMatchObject({ framesReceived: 10, framesDropped: 0 });
    expect(rt.nicCounters(a.handle)).toMatchObject({ framesReceived: 0, framesSent: 10 });
  });

  it('bad ring sizes are rejected', () => {
    const rt = createRuntimeSync();
    for (const bad of [0, 3, 6, 65537, 131072, 1.5, -4]) {
      expect(() => rt.registerVirtualMiniport({ rcbCount: bad })).toThrow(NdisBugCheck);
      expect(() => rt.registerVirtualMiniport({ tcbCount: bad })).toThrow(NdisBugCheck);
    }
  });
});

// -- DPC batching ----------------------------------------------------------------------------------------

describe('DPC batching', () => {
  it('batch 64 and 200 frames: several passes, receive chains of at most 64, exact counters', () => {
    const w = world({ n: 3 });
    const sizes = Array.from({ length: 200 }, (_, i) => 60 + ((i * 37) % 1455));
    w.send(0, sizes, 0);
    const r = w.rt.runDpcs({ batch: 64 });
    expect(r.passes).toBeGreaterThanOrEqual(4);
    expect(r.sendsCompleted).toBe(200);
    expect(r.receivesIndicated).toBe(400);
    for (const j of [1, 2]) {
      const calls = w.b(j).calls;
      expect(Math.max(...calls)).toBe(64);
      expect(sum(calls)).toBe(200);
      expect(calls.length).toBeGreaterThanOrEqual(4);
      expect(w.b(j).rx.map((x) => seqOf(x.bytes))).toEqual(sizes.map((_, k) => k));
    }
    const bytes = wireBytes(sizes);
    expect(w.c(0)).toMatchObject({ framesSent: 200, bytesSent: bytes, framesReceived: 0, bytesReceived: 0, sendsQueued: 200, sendsCompleted: 200, framesDropped: 0, sendErrors: 0 });
    for (const j of [1, 2]) {
      expect(w.c(j)).toMatchObject({ framesSent: 0, bytesSent: 0, framesReceived: 200, bytesReceived: bytes, sendsQueued: 0, sendsCompleted: 0, framesDropped: 0 });
    }
    // Hub.counters() reports the same numbers.
    const hc = w.hub.counters();
    expect(hc.map((c) => c.name).sort()).toEqual(['vnic0', 'vnic1', 'vnic2']);
    for (let i = 0; i < 3; i++) expect(hc.find((c) => c.handle === w.adapters[i]!.handle)).toEqual(w.c(i));
  });

  it('batch 1: one frame per chain and per pass; maxPasses stops early and a later call finishes', () => {
    const w = world({ n: 2 });
    w.send(0, Array.from({ length: 10 }, () => 64), 0);
    const r1 = w.rt.runDpcs({ batch: 1, maxPasses: 3 });
    expect(r1.passes).toBe(3);
    expect(r1.sendsCompleted).toBe(3);
    expect(w.b(1).rx.length).toBe(3);
    const r2 = w.rt.runDpcs({ batch: 1 });
    expect(r2.sendsCompleted).toBe(7);
    expect(w.b(1).calls.every((c) => c === 1)).toBe(true);
    expect(w.b(1).rx.map((x) => seqOf(x.bytes))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(w.c(0)).toMatchObject({ sendsQueued: 10, sendsCompleted: 10 });
    // Idle: one pass, nothing done.
    expect(w.rt.runDpcs()).toEqual({ passes: 1, sendsCompleted: 0, receivesIndicated: 0 });
  });

  it('runDpcs rejects bad options', () => {
    const w = world({ n: 1 });
    expect(() => w.rt.runDpcs({ batch: 0 })).toThrow(NdisBugCheck);
    expect(() => w.rt.runDpcs({ batch: -1 })).toThrow(NdisBugCheck);
    expect(() => w.rt.runDpcs({ maxPasses: 0 })).toThrow(NdisBugCheck);
  });
});

// -- TCB backlog -------------------------------------------------------------------------------------------

describe('transmit descriptors', () => {
  it('tcbCount 4 and 100 queued sends: all complete, in order', () => {
    const w = world({ n: 2, tcbCount: 4 });
    // 50 in one chain, then 50 single sends.
    const a = w.send(0, Array.from({ length: 50 }, (_, i) => 60 + i), 0);
    const b = w.send(0, Array.from({ length: 50 }, (_, i) => 200 + i), 50, { single: true });
    const r = w.rt.runDpcs();
    expect(r.passes).toBeGreaterThanOrEqual(25); // 4 transmissions per pass
    expect(r.sendsCompleted).toBe(100);
    const done = w.b(0).done;
    expect(done.map((d) => d.id)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(done.every((d) => d.status === NDIS_STATUS_SUCCESS)).toBe(true);
    expect(w.b(1).rx.map((x) => x.bytes)).toEqual([...a, ...b].map(onWire));
    expect(w.c(0)).toMatchObject({ framesSent: 100, sendsQueued: 100, sendsCompleted: 100 });
  });

  it('tcbCount 1 keeps order too', () => {
    const w = world({ n: 2, tcbCount: 1 });
    w.send(0, Array.from({ length: 20 }, () => 60), 0, { single: true });
    const r = w.rt.runDpcs({ batch: 8 });
    expect(r.passes).toBeGreaterThanOrEqual(20);
    expect(w.b(0).done.map((d) => d.id)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(w.b(1).rx.map((x) => seqOf(x.bytes))).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

// -- pause / restart -----------------------------------------------------------------------------------------

describe('pause and restart', () => {
  it('pause with sends queued: they complete with NDIS_STATUS_PAUSED and nothing is transmitted', () => {
    const w = world({ n: 3 });
    w.send(0, Array.from({ length: 10 }, () => 100), 0);
    expect(w.adapters[0]!.outstanding.sends).toBe(10);
    w.adapters[0]!.pause();
    expect(w.adapters[0]!.state).toBe('paused');
    const done = w.b(0).done;
    expect(done.map((d) => d.id)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(done.every((d) => d.status === NDIS_STATUS_PAUSED)).toBe(true);
    expect(w.adapters[0]!.outstanding).toEqual({ sends: 0, receives: 0 });
    w.rt.runDpcs();
    expect(w.b(1).rx.length + w.b(2).rx.length).toBe(0);
    expect(w.c(0)).toMatchObject({ framesSent: 0, sendsQueued: 10, sendsCompleted: 10 });
    // Sends on the paused adapter complete at once with PAUSED (NDIS does not call the miniport).
    w.send(0, [64], 50);
    expect(done.at(-1)).toMatchObject({ id: 50, status: NDIS_STATUS_PAUSED });
    expect(w.c(0).sendsQueued).toBe(10);
    // Restart: sends go out again.
    w.adapters[0]!.restart();
    expect(w.adapters[0]!.state).toBe('running');
    w.send(0, [64, 65], 60);
    w.rt.runDpcs();
    expect(w.b(1).rx.map((x) => seqOf(x.bytes))).toEqual([60, 61]);
    expect(done.slice(-2).map((d) => d.status)).toEqual([NDIS_STATUS_SUCCESS, NDIS_STATUS_SUCCESS]);
  });

  it('pause while receives are held pends; the returns complete it (pausing → paused)', () => {
    const w = world({ n: 3 });
    const b1 = w.b(1);
    b1.hold = true;
    w.send(0, [60, 61, 62, 63, 64], 0);
    w.rt.runDpcs();
    expect(b1.held.length).toBe(5);
    const a1 = w.adapters[1]!;
    a1.pause();
    expect(a1.state).toBe('pausing');
    expect(a1.outstanding.receives).toBe(5);
    expect(() => a1.restart()).toThrow(NdisBugCheck);
    // Return them in two chains: the pause completes with the last one.
    const held = b1.held;
    b1.held = held.slice(0, 2);
    w.p.returnHeld(b1);
    expect(a1.state).toBe('pausing');
    b1.held = held.slice(2);
    w.p.returnHeld(b1);
    expect(a1.state).toBe('paused');
    expect(a1.outstanding).toEqual({ sends: 0, receives: 0 });
    expect(w.c(1).receivesOutstanding).toBe(0);
  });

  it('a paused adapter receives nothing (frames to it are not counted) and restart brings it back', () => {
    const w = world({ n: 3 });
    w.adapters[1]!.pause();
    expect(w.adapters[1]!.state).toBe('paused');
    const sent = w.send(0, [60, 100, 1514], 0);
    w.rt.runDpcs();
    expect(w.b(1).rx.length).toBe(0);
    expect(w.c(1)).toMatchObject({ framesReceived: 0, framesDropped: 0, bytesReceived: 0 });
    expect(w.b(2).rx.map((x) => x.bytes)).toEqual(sent.map(onWire));
    w.adapters[1]!.restart();
    const more = w.send(0, [70, 80], 10);
    w.rt.runDpcs();
    expect(w.b(1).rx.map((x) => x.bytes)).toEqual(more.map(onWire));
    expect(w.c(1)).toMatchObject({ framesReceived: 2, framesDropped: 0 });
    expect(w.c(2)).toMatchObject({ framesReceived: 5 });
  });

  it('frames received but not yet indicated when the receiver pauses go back to its free descriptors', () => {
    // Two senders, batch 4: each pass puts 8 frames on vnic1's RX ring and indicates 4.
    const w = world({ n: 3, rcbCount: 16, hold: true });
    w.b(0).hold = false;
    w.b(2).hold = false;
    w.send(0, [60, 60, 60, 60], 0);
    w.send(2, [60, 60, 60, 60], 100);
    w.rt.runDpcs({ batch: 4, maxPasses: 1 });
    const b1 = w.b(1);
    expect(b1.rx.length).toBe(4);
    expect(w.c(1).framesReceived).toBe(8);
    const a1 = w.adapters[1]!;
    a1.pause();
    expect(a1.state).toBe('pausing');
    w.p.returnHeld(b1);
    expect(a1.state).toBe('paused');
    w.rt.runDpcs();
    expect(b1.rx.length).toBe(4); // the 4 un-indicated frames were dropped by the pause
    a1.restart();
    // All 16 descriptors are free again.
    w.send(0, Array.from({ length: 20 }, () => 60), 200);
    w.rt.runDpcs();
    expect(b1.rx.length).toBe(4 + 16);
    expect(w.c(1)).toMatchObject({ framesReceived: 8 + 16, framesDropped: 4 });
    w.p.returnHeld(b1);
    // Teardown leaves nothing behind.
    for (const a of w.adapters) a.remove();
    expect(w.rt.poolmon().filter((r) => r.type === 'NBL').map((r) => r.outstanding)).toEqual([0, 0]);
  });
});

// -- cancel ------------------------------------------------------------------------------------------------

describe('cancel', () => {
  it('NdisCancelSendNetBufferLists completes queued NBLs with the cancel ID with NDIS_STATUS_SEND_ABORTED before they are transmitted', () => {
    const w = world({ n: 3 });
    const X = 0x1234;
    const Y = 0x5678;
    const sent = w.send(0, [60, 61, 62, 63, 64, 65], 0, { cancel: (k) => (k % 2 ? X : k === 4 ? Y : undefined) });
    // vnic1 queues sends with the same cancel ID: another binding's cancel does not touch them.
    w.send(1, [70, 71], 50, { cancel: () => X });
    (w.rt as Loose).NdisCancelSendNetBufferLists(w.b(0).handle, X);
    const d0 = w.b(0).done;
    expect(d0.map((d) => [d.id, d.status])).toEqual([[1, NDIS_STATUS_SEND_ABORTED], [3, NDIS_STATUS_SEND_ABORTED], [5, NDIS_STATUS_SEND_ABORTED]]);
    expect(w.b(1).done.length).toBe(0);
    // An ID nobody used cancels nothing.
    (w.rt as Loose).NdisCancelSendNetBufferLists(w.b(0).handle, 0x9999);
    expect(d0.length).toBe(3);
    w.rt.runDpcs();
    expect(d0.slice(3).map((d) => [d.id, d.status])).toEqual([[0, 0], [2, 0], [4, 0]]);
    expect(w.b(2).rx.filter((x) => macKey(macOf(x.bytes)) === macKey(w.b(0).mac)).map((x) => x.bytes)).toEqual([sent[0]!, sent[2]!, sent[4]!].map(onWire));
    expect(w.b(1).done.map((d) => d.status)).toEqual([0, 0]);
    expect(w.c(0)).toMatchObject({ framesSent: 3, sendsQueued: 6, sendsCompleted: 6 });
    // After transmission a cancel finds nothing.
    (w.rt as Loose).NdisCancelSendNetBufferLists(w.b(0).handle, Y);
    expect(d0.length).toBe(6);
  });

  it('cancelling every queued send (head, middle, tail) leaves the queue consistent', () => {
    const w = world({ n: 2, tcbCount: 2 });
    const X = 0xc0;
    w.send(0, [60, 60, 60, 60, 60], 0, { cancel: (k) => (k === 0 || k === 2 || k === 4 ? X : undefined) });
    (w.rt as Loose).NdisCancelSendNetBufferLists(w.b(0).handle, X);
    expect(w.b(0).done.map((d) => d.id)).toEqual([0, 2, 4]);
    // The tail was cancelled: later sends must still be queued behind the survivors.
    w.send(0, [60, 60], 10);
    w.rt.runDpcs();
    expect(w.b(1).rx.map((x) => seqOf(x.bytes))).toEqual([1, 3, 10, 11]);
    expect(w.c(0)).toMatchObject({ sendsQueued: 7, sendsCompleted: 7, framesSent: 4 });
  });
});

// -- hubs and teardown ---------------------------------------------------------------------------------------

describe('hubs and teardown', () => {
  it('two hubs are isolated', () => {
    const rt = createRuntimeSync();
    const p = new TestProtocol(rt);
    const drv = rt.registerVirtualMiniport();
    const h1 = rt.createHub('one')!;
    const h2 = rt.createHub('two')!;
    const a = [rt.createAdapter(drv, { name: 'a1', hub: h1 })!, rt.createAdapter(drv, { name: 'b1', hub: h1 })!];
    const b = [rt.createAdapter(drv, { name: 'a2', hub: h2 })!, rt.createAdapter(drv, { name: 'b2', hub: h2 })!];
    const pa = p.byName.get('a1')!;
    const pb = p.byName.get('a2')!;
    p.send(pa, [0, 1, 2].map((k) => ({ f: frame(pa.mac, k, 100), id: k })));
    p.send(pb, [0, 1].map((k) => ({ f: frame(pb.mac, 100 + k, 200), id: k })));
    rt.runDpcs();
    expect(p.byName.get('b1')!.rx.map((x) => seqOf(x.bytes))).toEqual([0, 1, 2]);
    expect(p.byName.get('b2')!.rx.map((x) => seqOf(x.bytes))).toEqual([100, 101]);
    expect(rt.nicCounters(a[1]!.handle)).toMatchObject({ framesReceived: 3, framesDropped: 0 });
    expect(rt.nicCounters(b[1]!.handle)).toMatchObject({ framesReceived: 2, framesDropped: 0 });
    expect(h1.counters().map((c) => c.name).sort()).toEqual(['a1', 'b1']);
    expect(h2.counters().map((c) => c.name).sort()).toEqual(['a2', 'b2']);
  });

  it('Hub.destroy() with adapters throws; after remove() it frees the hub', () => {
    const w = world({ n: 2 });
    expect(() => w.hub.destroy()).toThrow(NdisBugCheck);
    expect(() => w.hub.destroy()).toThrow(/still has 2 adapter/);
    // A paused adapter is off the hub but still uses it.
    w.adapters[0]!.pause();
    expect(() => w.hub.destroy()).toThrow(/still has 2 adapter/);
    w.adapters[0]!.remove();
    expect(() => w.hub.destroy()).toThrow(/still has 1 adapter/);
    w.adapters[1]!.remove();
    w.hub.destroy();
    expect(() => w.hub.destroy()).toThrow(NdisBugCheck);
    expect(w.rt.runDpcs().passes).toBe(1);
    expect(w.rt.poolmon().filter((r) => r.type === 'vNIC').every((r) => r.outstanding === 0)).toBe(true);
  });

  it('bad adapter options throw and leave nothing behind', () => {
    const rt = createRuntimeSync();
    const drv = rt.registerVirtualMiniport();
    const other = createRuntimeSync().createHub('elsewhere')!;
    const before = JSON.stringify(rt.poolmon().map((r) => [r.tag, r.type, r.outstanding]));
    expect(() => rt.createAdapter(drv, { name: 'x', hub: other })).toThrow(NdisBugCheck);
    expect(() => rt.createAdapter(drv, { name: 'y', hub: {} })).toThrow(NdisBugCheck);
    expect(() => rt.createAdapter(drv, { name: 'z', tcbCount: 3 })).toThrow(NdisBugCheck);
    expect(() => rt.createAdapter(drv, { name: 'w', rcbCount: 0 })).toThrow(NdisBugCheck);
    const after = rt.poolmon().filter((r) => r.type === 'NBL' || r.tagValue === TAG_RECV);
    expect(after.every((r) => r.outstanding === 0)).toBe(true);
    expect(JSON.stringify(rt.poolmon().filter((r) => r.type !== 'vNIC').map((r) => [r.tag, r.type, r.outstanding]))).toBe(before);
    // The runtime still works.
    const hub = rt.createHub()!;
    const a = rt.createAdapter(drv, { name: 'ok', hub })!;
    expect(a.state).toBe('running');
    a.remove();
    hub.destroy();
  });

  it('an adapter whose receive buffers do not fit in memory fails to initialize and frees what it took', () => {
    const rt = createRuntimeSync({ maxMemory: 8 << 20 });
    const p = new TestProtocol(rt);
    const drv = rt.registerVirtualMiniport();
    const hub = rt.createHub()!;
    const big = rt.createAdapter(drv, { name: 'big', hub, rcbCount: 8192 }); // 8192 x 1514 bytes > 8 MiB
    expect(big).toBeNull();
    expect(hub.counters()).toEqual([]);
    expect(rt.poolmon().filter((r) => r.type === 'NBL').every((r) => r.outstanding === 0 && r.pools === 0)).toBe(true);
    expect(p.byName.size).toBe(0);
    const a = rt.createAdapter(drv, { name: 'a', hub, rcbCount: 16 })!;
    const b = rt.createAdapter(drv, { name: 'b', hub, rcbCount: 16 })!;
    const pa = p.byName.get('a')!;
    p.send(pa, [{ f: frame(pa.mac, 3, 500), id: 3 }]);
    rt.runDpcs();
    expect(p.byName.get('b')!.rx.map((x) => x.bytes)).toEqual([frame(pa.mac, 3, 500)]);
    a.remove();
    b.remove();
    hub.destroy();
  });

  it('remove() of every adapter frees every pool (poolmon and memoryReport)', () => {
    const w = world({ n: 3, rcbCount: 32 });
    for (let i = 0; i < 3; i++) w.send(i, Array.from({ length: 40 }, (_, k) => 60 + k * 30), i * 100);
    w.b(2).hold = true;
    w.rt.runDpcs({ batch: 16 });
    expect(w.b(2).held.length).toBe(32);
    const live = (tag: number) => w.rt.poolmon().find((r) => r.tagValue === tag && r.type === 'NBL')!;
    expect(live(TAG_RECV).outstanding).toBe(3 * 32);
    expect(live(TAG_RECV).pools).toBe(3);
    expect(live(TAG_SEND).pools).toBe(3);
    expect(live(TAG_SEND).outstanding).toBe(0); // every send completed and was freed
    // vnic2 still holds 32 receives: its unbind returns them.
    for (const a of w.adapters) {
      a.remove();
      expect(a.state).toBe('halted');
      expect(w.rt.nicCounters(a.handle)).toBeUndefined();
    }
    for (const tag of [TAG_RECV, TAG_SEND]) {
      const r = live(tag);
      expect(r.outstanding).toBe(0);
      expect(r.pools).toBe(0);
      expect(r.allocs).toBe(r.frees);
    }
    expect(live(TAG_RECV).allocs).toBe(3 * 32);
    expect(live(TAG_SEND).allocs).toBe(120);
    const rep = w.rt.memoryReport();
    expect(sum(rep.pools.filter((p) => p.type === 'NBL').map((p) => p.live))).toBe(0);
    expect(w.hub.counters()).toEqual([]);
    w.hub.destroy();
    expect(w.rt.poolmon().filter((r) => r.type === 'NBL' || r.type === 'vNIC').every((r) => r.outstanding === 0)).toBe(true);
    const mp = w.rt as Loose;
    mp.NdisMDeregisterMiniportDriver(w.drv);
    mp.NdisDeregisterProtocolDriver(w.p.handle);
  });
});


// -- NBLs with several NET_BUFFERs, or none ----------------------------------------------------------------

const TAG_NB = POOL_TAG('bNvT');
const TAG_BARE = POOL_TAG('lBvT');

/** Pools for hand-built NBLs on binding `b`: NBLs without NBs, and NBs with 1514 bytes of data. */
function barePools(rt: NdisRuntime, b: Bind): { nblPool: number; nbPool: number } {
  const r = rt as Loose;
  const nblPool = r.NdisAllocateNetBufferListPool(b.handle, {
    Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: 1, Size: 16 }, ProtocolId: 0, fAllocateNetBuffer: false, ContextSize: 0, PoolTag: TAG_BARE, DataSize: 0,
  });
  const nbPool = r.NdisAllocateNetBufferPool(b.handle, { Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: 1, Size: 12 }, PoolTag: TAG_NB, DataSize: MAX_FRAME });
  expect(nblPool).not.toBe(0);
  expect(nbPool).not.toBe(0);
  return { nblPool, nbPool };
}

/** An NBL of `frames.length` NBs (one frame each), registered for send-complete as `id`. */
function multiNbl(rt: NdisRuntime, b: Bind, pools: { nblPool: number; nbPool: number }, frames: Uint8Array[], id: number, cancel?: number): number {
  const r = rt as Loose;
  const nbl = r.NdisAllocateNetBufferList(pools.nblPool, 0, 0);
  const nbs = frames.map((f) => {
    const nb = r.NdisAllocateNetBufferMdlAndData(pools.nbPool);
    const va = r.MmGetSystemAddressForMdlSafe(r.NET_BUFFER_FIRST_MDL(nb), NormalPagePriority);
    rt.bytes(va, f.length).set(f);
    r.NET_BUFFER_DATA_LENGTH_SET(nb, f.length);
    return nb;
  });
  for (let i = 0; i + 1 < nbs.length; i++) r.NET_BUFFER_NEXT_NB_SET(nbs[i], nbs[i + 1]);
  r.NET_BUFFER_LIST_FIRST_NB_SET(nbl, nbs[0] ?? 0);
  if (cancel !== undefined) r.NDIS_SET_NET_BUFFER_LIST_CANCEL_ID(nbl, cancel);
  b.ids.set(nbl, id);
  b.nbsOf.set(nbl, nbs);
  return nbl;
}

describe('NBLs with several NET_BUFFERs, or none', () => {
  it('each NB is a frame; the NBL completes once, after its last NB', () => {
    const w = world({ n: 3 });
    const b = w.b(0);
    const pools = barePools(w.rt, b);
    const r = w.rt as Loose;
    const f1 = [60, 700, 1514].map((len, k) => frame(b.mac, k, len));
    const f2 = [100, 200].map((len, k) => frame(b.mac, 10 + k, len));
    const n1 = multiNbl(w.rt, b, pools, f1, 1);
    const n2 = multiNbl(w.rt, b, pools, f2, 2);
    r.NET_BUFFER_LIST_NEXT_NBL_SET(n1, n2);
    r.NdisSendNetBufferLists(b.handle, n1, 0, 0);
    w.rt.runDpcs();
    expect(b.done.map((d) => [d.id, d.status])).toEqual([[1, 0], [2, 0]]);
    for (const j of [1, 2]) expect(w.b(j).rx.map((x) => x.bytes)).toEqual([...f1, ...f2].map(onWire));
    expect(w.c(0)).toMatchObject({ framesSent: 5, sendsQueued: 2, sendsCompleted: 2, sendErrors: 0 });
    r.NdisFreeNetBufferListPool(pools.nblPool);
    r.NdisFreeNetBufferPool(pools.nbPool);
  });

  it('a short NB fails its whole NBL with INVALID_DATA; its other NBs are still transmitted', () => {
    const w = world({ n: 2 });
    const b = w.b(0);
    const pools = barePools(w.rt, b);
    const fs = [64, 10, 65].map((len, k) => frame(b.mac, k, len));
    (w.rt as Loose).NdisSendNetBufferLists(b.handle, multiNbl(w.rt, b, pools, fs, 1), 0, 0);
    w.rt.runDpcs();
    expect(b.done.map((d) => d.status)).toEqual([NDIS_STATUS_INVALID_DATA]);
    expect(w.b(1).rx.map((x) => x.bytes)).toEqual([fs[0]!, fs[2]!].map(onWire));
    expect(w.c(0)).toMatchObject({ framesSent: 2, sendErrors: 1, sendsQueued: 1, sendsCompleted: 1 });
  });

  it('an NBL partly transmitted is not cancelled; a pause fails the rest of it with PAUSED', () => {
    const w = world({ n: 2, tcbCount: 1 });
    const b = w.b(0);
    const r = w.rt as Loose;
    const pools = barePools(w.rt, b);
    const X = 0x77;
    const fa = [60, 61, 62].map((len, k) => frame(b.mac, k, len));
    const fb = [63, 64].map((len, k) => frame(b.mac, 10 + k, len));
    const na = multiNbl(w.rt, b, pools, fa, 1, X);
    const nb = multiNbl(w.rt, b, pools, fb, 2, X);
    r.NET_BUFFER_LIST_NEXT_NBL_SET(na, nb);
    r.NdisSendNetBufferLists(b.handle, na, 0, 0);
    // One pass with one TCB: the first NB of the first NBL goes out.
    w.rt.runDpcs({ maxPasses: 1 });
    expect(w.b(1).rx.map((x) => x.bytes)).toEqual([onWire(fa[0]!)]);
    expect(b.done.length).toBe(0);
    // Cancel: only the NBL not started yet is aborted.
    r.NdisCancelSendNetBufferLists(b.handle, X);
    expect(b.done.map((d) => [d.id, d.status])).toEqual([[2, NDIS_STATUS_SEND_ABORTED]]);
    // Pause: the rest of the started NBL is failed; it completes once, with PAUSED.
    w.adapters[0]!.pause();
    expect(b.done.map((d) => [d.id, d.status])).toEqual([[2, NDIS_STATUS_SEND_ABORTED], [1, NDIS_STATUS_PAUSED]]);
    expect(w.c(0)).toMatchObject({ framesSent: 1, sendsQueued: 2, sendsCompleted: 2 });
    expect(w.adapters[0]!.state).toBe('paused');
    w.rt.runDpcs();
    expect(w.b(1).rx.length).toBe(1);
  });

  it('an NBL without NBs completes at once with SUCCESS', () => {
    const w = world({ n: 2 });
    const b = w.b(0);
    const pools = barePools(w.rt, b);
    const n = multiNbl(w.rt, b, pools, [], 5);
    (w.rt as Loose).NdisSendNetBufferLists(b.handle, n, 0, 0);
    expect(b.done.map((d) => [d.id, d.status])).toEqual([[5, NDIS_STATUS_SUCCESS]]);
    expect(w.c(0)).toMatchObject({ framesSent: 0, sendsQueued: 1, sendsCompleted: 1 });
    expect(w.adapters[0]!.outstanding.sends).toBe(0);
  });
});

// -- sends from inside the DPC -------------------------------------------------------------------------------

describe('sends from receive handlers (inside runDpcs)', () => {
  it('an echo on the receiving binding: runDpcs keeps going until the echoes are delivered', () => {
    const w = world({ n: 2 });
    const b0 = w.b(0);
    const b1 = w.b(1);
    b1.onReceive = (rx) => {
      // Echo each frame back (at DISPATCH_LEVEL: we are in the receive DPC).
      const echo = rx.map((x) => ({ f: frame(b1.mac, seqOf(x.bytes) + 1000, x.bytes.length), id: seqOf(x.bytes) + 1000 }));
      w.p.send(b1, echo, { flags: NDIS_SEND_FLAGS_DISPATCH_LEVEL });
    };
    w.send(0, [60, 100, 300], 0);
    const r = w.rt.runDpcs();
    expect(b0.rx.map((x) => seqOf(x.bytes))).toEqual([1000, 1001, 1002]);
    expect(b1.done.map((d) => d.status)).toEqual([0, 0, 0]);
    expect(r.sendsCompleted).toBe(6);
    expect(r.receivesIndicated).toBe(6);
  });

  it('a bridge forwarding to another binding: every completion made by the pass is counted in DpcResult.sendsCompleted', () => {
    // vnic0 and vnic2 transmit in the same pass; vnic1's protocol forwards what it gets on its
    // binding to vnic2 from its receive handler. The completion of vnic2's own send is made in
    // that pass and must be completed by runDpcs (DISPATCH_LEVEL) and counted.
    const w = world({ n: 3 });
    const b1 = w.b(1);
    const b2 = w.b(2);
    let fwd = 0;
    b1.onReceive = (rx) => {
      const fwdFrames = rx.filter((x) => macKey(macOf(x.bytes)) === macKey(w.b(0).mac)).map((x) => ({ f: frame(b2.mac, 500 + fwd, x.bytes.length), id: 500 + fwd++ }));
      w.p.send(b2, fwdFrames, { flags: NDIS_SEND_FLAGS_DISPATCH_LEVEL });
    };
    w.send(0, [60], 0);
    w.send(2, [61], 100);
    const r = w.rt.runDpcs();
    // Sends: vnic0's frame, vnic2's frame, the forwarded frame.
    expect(w.b(0).done.length + b2.done.length).toBe(3);
    expect(b2.done.every((d) => d.flags & NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL)).toBe(true);
    expect(b2.done.map((d) => d.id)).toEqual([100, 500]);
    // BUG (src/vnic.ts): the send handler's completeSends() takes vnic2's send-complete chain of
    // the current pass (vnic2's own frame, id 100) before runDpcs reaches vnic2, so runDpcs never
    // counts it: sendsCompleted is 2 here.
    expect(r.sendsCompleted).toBe(3);
  });
});

describe('default hub', () => {
  it('adapters created without a hub share the runtime default hub', () => {
    const rt = createRuntimeSync();
    const p = new TestProtocol(rt);
    const drv = rt.registerVirtualMiniport({ rcbCount: 16, tcbCount: 16 });
    const a = rt.createAdapter(drv, { name: 'd0' })!;
    const b = rt.createAdapter(drv, { name: 'd1' })!;
    const own = rt.createHub('own')!;
    const c = rt.createAdapter(drv, { name: 'other', hub: own })!;
    const pa = p.byName.get('d0')!;
    p.send(pa, [{ f: frame(pa.mac, 1, 99), id: 1 }]);
    rt.runDpcs();
    expect(p.byName.get('d1')!.rx.map((x) => x.bytes)).toEqual([onWire(frame(pa.mac, 1, 99))]);
    expect(p.byName.get('other')!.rx.length).toBe(0);
    for (const x of [a, b, c]) x.remove();
    own.destroy();
  });
});

// -- fast-check model ------------------------------------------------------------------------------------------

type Cmd =
  | { t: 'send'; i: number; sizes: number[] }
  | { t: 'run'; batch: number }
  | { t: 'ret'; i: number }
  | { t: 'pause'; i: number }
  | { t: 'restart'; i: number };

describe('model (fast-check)', () => {
  it('random sends / DPCs / returns / pause / restart conserve frames and complete every send', () => {
    const N = 3;
    const RCB = 8;
    const size = fc.oneof(
      { arbitrary: fc.integer({ min: 0, max: 13 }), weight: 1 },
      { arbitrary: fc.integer({ min: 18, max: 59 }), weight: 2 },
      { arbitrary: fc.integer({ min: 60, max: 1514 }), weight: 6 },
    );
    const cmd: fc.Arbitrary<Cmd> = fc.oneof(
      { arbitrary: fc.record({ t: fc.constant('send' as const), i: fc.nat(N - 1), sizes: fc.array(size, { minLength: 1, maxLength: 12 }) }), weight: 6 },
      { arbitrary: fc.record({ t: fc.constant('run' as const), batch: fc.integer({ min: 1, max: 20 }) }), weight: 4 },
      { arbitrary: fc.record({ t: fc.constant('ret' as const), i: fc.nat(N - 1) }), weight: 2 },
      { arbitrary: fc.record({ t: fc.constant('pause' as const), i: fc.nat(N - 1) }), weight: 1 },
      { arbitrary: fc.record({ t: fc.constant('restart' as const), i: fc.nat(N - 1) }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: N, maxLength: N }), fc.array(cmd, { minLength: 1, maxLength: 40 }), (holds, cmds) => {
        const w = world({ n: N, rcbCount: RCB });
        holds.forEach((h, i) => (w.b(i).hold = h));
        const bind = Array.from({ length: N }, (_, i) => w.b(i));
        /** Frames sent, by sender and sequence number. */
        const sentBy = bind.map(() => new Map<number, Uint8Array>());
        const seq = bind.map(() => 0);
        /** Per adapter: valid / invalid frames queued to the miniport since the last run. */
        const queuedValid = bind.map(() => 0);
        const queuedInvalid = bind.map(() => 0);
        const count = (i: number) => w.c(i);
        const run = (batch: number) => {
          const before = bind.map((_, i) => count(i));
          const running = w.adapters.map((a) => a.state === 'running');
          const R = running.filter(Boolean).length;
          const rxBefore = bind.map((b) => b.rx.length);
          w.rt.runDpcs({ batch });
          const after = bind.map((_, i) => count(i));
          let txDelta = 0;
          for (let i = 0; i < N; i++) {
            // Every send queued to the miniport completed.
            expect(after[i]!.sendsQueued).toBe(after[i]!.sendsCompleted);
            expect(bind[i]!.ids.size).toBe(0);
            expect(w.adapters[i]!.outstanding.sends).toBe(0);
            expect(after[i]!.framesSent - before[i]!.framesSent).toBe(queuedValid[i]);
            expect(after[i]!.sendErrors - before[i]!.sendErrors).toBe(queuedInvalid[i]);
            txDelta += queuedValid[i]!;
            queuedValid[i] = 0;
            queuedInvalid[i] = 0;
          }
          // Conservation: each frame reached every other running adapter, received or dropped.
          let heard = 0;
          for (let j = 0; j < N; j++) {
            const d = after[j]!.framesReceived - before[j]!.framesReceived + after[j]!.framesDropped - before[j]!.framesDropped;
            heard += d;
            const arrivals = running[j] ? txDelta - (after[j]!.framesSent - before[j]!.framesSent) : 0;
            expect(d).toBe(arrivals);
            const gotNow = bind[j]!.rx.length - rxBefore[j]!;
            expect(after[j]!.framesReceived - before[j]!.framesReceived).toBe(gotNow);
            // A holding receiver has exactly rcbCount - held free descriptors for the whole run.
            if (bind[j]!.hold && running[j]) {
              const free = RCB - (bind[j]!.held.length - gotNow);
              expect(gotNow).toBe(Math.min(arrivals, free));
            }
          }
          expect(heard).toBe(txDelta * Math.max(0, R - 1));
          // Every frame received is byte-for-byte a frame another adapter sent.
          for (let j = 0; j < N; j++) {
            for (const x of bind[j]!.rx.slice(rxBefore[j]!)) {
              expect(x.flags).toBe(NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL | NDIS_RECEIVE_FLAGS_PERFECT_FILTERED);
              const from = bind.findIndex((b) => macKey(b.mac) === macKey(macOf(x.bytes)));
              expect(from).not.toBe(j);
              expect(from).toBeGreaterThanOrEqual(0);
              const f = sentBy[from]!.get(seqOf(x.bytes));
              expect(f).toBeDefined();
              expect(x.bytes).toEqual(onWire(f!));
            }
          }
        };
        for (const c of cmds) {
          const a = c.t === 'run' ? null : w.adapters[c.i]!;
          switch (c.t) {
            case 'send': {
              const fs = c.sizes.map((len) => frame(bind[c.i]!.mac, seq[c.i]!++, len));
              fs.forEach((f) => { if (f.length >= 18) sentBy[c.i]!.set(seqOf(f), f); });
              const before = bind[c.i]!.done.length;
              w.p.send(bind[c.i]!, fs.map((f) => ({ f, id: seqOf(f) })));
              if (a!.state === 'running') {
                queuedValid[c.i]! += c.sizes.filter((l) => l >= HEADER).length;
                queuedInvalid[c.i]! += c.sizes.filter((l) => l < HEADER).length;
                expect(bind[c.i]!.done.length).toBe(before);
              } else {
                // Not running: NDIS completes them at once with PAUSED.
                expect(bind[c.i]!.done.slice(before).map((d) => d.status)).toEqual(c.sizes.map(() => NDIS_STATUS_PAUSED));
              }
              break;
            }
            case 'run':
              run(c.batch);
              break;
            case 'ret': {
              const wasPausing = a!.state === 'pausing';
              w.p.returnHeld(bind[c.i]!);
              if (wasPausing) expect(a!.state).toBe('paused');
              break;
            }
            case 'pause': {
              if (a!.state !== 'running') break;
              const before = bind[c.i]!.done.length;
              a!.pause();
              // Queued sends completed with PAUSED; the pause pends while receives are held.
              const failed = bind[c.i]!.done.slice(before);
              expect(failed.length).toBe(queuedValid[c.i]! + queuedInvalid[c.i]!);
              expect(failed.every((d) => d.status === NDIS_STATUS_PAUSED)).toBe(true);
              queuedValid[c.i] = 0;
              queuedInvalid[c.i] = 0;
              expect(a!.state).toBe(bind[c.i]!.held.length ? 'pausing' : 'paused');
              break;
            }
            case 'restart':
              if (a!.state !== 'paused') break;
              a!.restart();
              expect(a!.state).toBe('running');
              break;
          }
        }
        run(64);
        // Teardown: every pool freed.
        for (const a of w.adapters) a.remove();
        for (const r of w.rt.poolmon().filter((x) => x.type === 'NBL')) expect(r.outstanding).toBe(0);
        w.hub.destroy();
      }),
      { numRuns: 100 },
    );
  });
});
