/**
 * The virtual NIC (NDIS-SPEC §9): netvmini's miniport, written against this package's NDIS API,
 * driving the Wasm hardware of assembly/nic.ts. Adapters of the virtual miniport sit on a hub;
 * every frame one of them transmits is copied (in Wasm) into a free receive buffer of every other
 * running adapter on the hub, or dropped and counted when it has none.
 *
 * The hardware runs when the runtime runs its DPCs: `runtime.runDpcs()` does simulated DPC
 * passes (one Wasm call per hub per pass, at most `batch` transmissions and receptions per
 * adapter) until no work is left, and the miniport calls NdisMSendNetBufferListsComplete and
 * NdisMIndicateReceiveNetBufferLists once per adapter per pass with the NBL chains the pass made.
 */
import { RuntimeCore, isU32 } from './core.js';
import { badParam, ruleViolation, hexAddr } from './errors.js';
import { NDIS_STATUS_SUCCESS, NDIS_STATUS_PENDING, NDIS_STATUS_RESOURCES, NDIS_OBJECT_TYPE_DEFAULT, POOL_TAG, type NDIS_HANDLE } from './ndis/constants.js';
import {
  NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS, NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
  NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
  NDIS_STATUS_PAUSED, NDIS_STATUS_SEND_ABORTED, NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL,
  NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL, NDIS_RECEIVE_FLAGS_PERFECT_FILTERED, type NDIS_MINIPORT_INIT_PARAMETERS,
  type NDIS_MINIPORT_DRIVER_CHARACTERISTICS, type DriverApi, runPnp,
} from './ndis/driver.js';
import { NBL, E } from './ndis/layout.js';
import { atDispatch } from './ndis/irql.js';
import { SharedRing } from './xring.js';
import { SlabPool } from './pool.js';
import type { NetBufferListApi, NblChainApi, PNET_BUFFER_LIST } from './ndis/nbl.js';

/** NIC record offsets (assembly/nic.ts N_*). */
const N = {
  TxFrames: 88, TxBytes: 96, RxFrames: 104, RxBytes: 112, RxDropped: 120, TxErrors: 128, SendsQueued: 136, SendsDone: 144,
} as const;
const NIC_MAX_FRAME = 1514;
/** 'rMVN' as netvmini writes its receive NBL pool tag (poolmon shows "NVMr"). */
const TAG_RECV_NBL = POOL_TAG('rMVN');

type Rt = RuntimeCore & DriverApi & NetBufferListApi & NblChainApi;

/** Options of `runtime.registerVirtualMiniport`. */
export interface VirtualMiniportOptions {
  /** Transmit descriptors per adapter (power of two, default 256: NIC_MAX_BUSY_SENDS). */
  tcbCount?: number;
  /** Receive descriptors (and receive NBLs) per adapter (power of two, default 256: NIC_MAX_BUSY_RECVS). */
  rcbCount?: number;
}

/** Per-adapter counters of the virtual hardware. */
export interface NicCounters {
  name: string;
  /** NdisMiniportHandle. */
  handle: number;
  framesSent: number;
  bytesSent: number;
  framesReceived: number;
  bytesReceived: number;
  /** Frames that found no free receive descriptor (netvmini's RxResourceErrors). */
  framesDropped: number;
  /** Sends failed by the hardware (shorter than an Ethernet header, inconsistent NB). */
  sendErrors: number;
  /** Send NBLs queued to the hardware / completed. */
  sendsQueued: number;
  sendsCompleted: number;
  /** Receive NBLs indicated and not yet returned. */
  receivesOutstanding: number;
}

interface VAdapter {
  ctx: number;
  name: string;
  handle: number;
  nic: number;
  hub: Hub;
  pool: number;
  /** Indicated, not yet returned. */
  pending: number;
  pausing: boolean;
  ready: boolean;
}

/** A hub of virtual adapters (netvmini's global adapter list). Create with `runtime.createHub()`. */
/** assembly/nic.ts H_UP_*: the hub record's uplink counters. */
const HUB_UPLINK = { Sent: 24, Received: 28, Dropped: 32 } as const;

export class Hub {
  /** @internal */ readonly adapters = new Set<VAdapter>();
  /** @internal */ readonly members = new Set<VAdapter>();
  /** @internal */ constructor(readonly rt: RuntimeCore, /** The hub record's address. */ readonly handle: number, readonly name: string) {}

  /** @internal the uplink's rings and frame pool while connected (kept alive with the hub) */
  uplink: { tx: SharedRing; rx: SharedRing; frames: SlabPool } | null = null;

  /**
   * Connects this hub to a hub in another worker of a multi-worker runtime (a cable between two
   * hubs): every frame sent on this hub is also copied into a buffer of `frames` (a SlabPool of
   * at least 1514-byte objects, through this worker's cache) and enqueued on `tx`; frames the
   * peer enqueues on `rx` reach this hub's adapters at its next DPC (`runtime.runDpcs()`), and
   * their buffers are freed here. The peer connects the same rings the other way round. A frame
   * finding no buffer or no room on `tx` is dropped and counted (`uplinkCounters().dropped`).
   * Each ring needs one producer and one consumer (`'single'` is enough).
   * @throws NdisBugCheck PARAM for rings or a pool that cannot serve (not live, not a SlabPool with a
   *   worker cache, objects smaller than a frame).
   */
  connectUplink(tx: SharedRing, rx: SharedRing, frames: SlabPool): void {
    const fn = 'Hub.connectUplink';
    if (!(tx instanceof SharedRing)) throw badParam(fn, 'tx', tx, 'a SharedRing');
    if (!(rx instanceof SharedRing)) throw badParam(fn, 'rx', rx, 'a SharedRing');
    if (!(frames instanceof SlabPool)) throw badParam(fn, 'frames', frames, 'a SlabPool');
    if (this.uplink) throw ruleViolation(fn, undefined, 'DRV-2', `${this.name} already has an uplink; disconnectUplink() first`);
    const e = this.rt.wasm.hubUplink(this.handle, tx.handle, rx.handle, frames.cacheBlock) >>> 0;
    if (e !== E.OK) {
      const arg = ['hub', 'tx', 'rx', 'frames'][e >>> E.ARG_SHIFT] ?? 'hub';
      throw badParam(fn, arg, arg === 'hub' ? this.handle : arg === 'frames' ? frames.handle : (arg === 'tx' ? tx : rx).handle,
        arg === 'frames' ? 'a live SlabPool of this multi-worker runtime with a worker cache and objects of at least 1514 bytes'
          : arg === 'hub' ? 'a live hub' : 'a live SharedRing');
    }
    this.uplink = { tx, rx, frames };
  }

  /**
   * Disconnects the uplink: frames waiting on its rx ring are freed without being delivered.
   * Returns how many were dropped that way. (Frames this hub sent and the peer has not taken are
   * the peer's to drain.) Does nothing without an uplink.
   */
  disconnectUplink(): number {
    if (!this.uplink) return 0;
    const n = this.rt.wasm.hubUplinkDrain(this.handle) >>> 0;
    this.rt.wasm.hubUplink(this.handle, 0, 0, 0);
    this.uplink = null;
    return n;
  }

  /** Frames this hub sent up its uplink, received from it, and dropped (no buffer, ring full). */
  uplinkCounters(): { sent: number; received: number; dropped: number } {
    const rt = this.rt;
    rt.sync();
    const h = this.handle;
    return { sent: rt.rd32(h + HUB_UPLINK.Sent), received: rt.rd32(h + HUB_UPLINK.Received), dropped: rt.rd32(h + HUB_UPLINK.Dropped) };
  }

  /**
   * Frees the hub. Its adapters must be removed first (NdisBugCheck DRV-2 otherwise); an uplink
   * is disconnected.
   */
  destroy(): void {
    if (this.members.size !== 0) {
      throw ruleViolation('Hub.destroy', undefined, 'DRV-2', `${this.name} still has ${this.members.size} adapter(s); remove them first`);
    }
    this.disconnectUplink();
    const e = this.rt.wasm.hubDestroy(this.handle) >>> 0;
    if (e !== E.OK) throw ruleViolation('Hub.destroy', undefined, 'DRV-2', `${this.name} is not a live hub (error ${e})`);
    const s = stateOf(this.rt);
    s.hubs.delete(this);
    if (s.defaultHub === this) s.defaultHub = null;
  }

  /** Counters of every adapter that uses this hub (attached or not). */
  counters(): NicCounters[] {
    return [...this.members].map((v) => countersOf(this.rt, v));
  }
}

function countersOf(rt: RuntimeCore, v: VAdapter): NicCounters {
  rt.sync();
  const n = v.nic;
  return {
    name: v.name, handle: v.handle,
    framesSent: rt.rd64(n + N.TxFrames), bytesSent: rt.rd64(n + N.TxBytes),
    framesReceived: rt.rd64(n + N.RxFrames), bytesReceived: rt.rd64(n + N.RxBytes),
    framesDropped: rt.rd64(n + N.RxDropped), sendErrors: rt.rd64(n + N.TxErrors),
    sendsQueued: rt.rd64(n + N.SendsQueued), sendsCompleted: rt.rd64(n + N.SendsDone),
    receivesOutstanding: v.pending,
  };
}

/** The virtual miniport of one runtime. */
class VState {
  readonly byCtx = new Map<number, VAdapter>();
  readonly hubs = new Set<Hub>();
  defaultHub: Hub | null = null;
  nextCtx = 1;
  constructor(readonly epoch: number) {}
}

const states = new WeakMap<RuntimeCore, VState>();
function stateOf(rt: RuntimeCore): VState {
  let s = states.get(rt);
  if (!s || s.epoch !== rt.epoch) states.set(rt, (s = new VState(rt.epoch)));
  return s;
}

/** @internal runtime.createHub */
export function createHub(rt: RuntimeCore, name = 'hub'): Hub | null {
  if (typeof name !== 'string') throw badParam('createHub', 'name', name, 'a string');
  const h = rt.wasm.hubCreate() >>> 0;
  if (h === 0) return null;
  const hub = new Hub(rt, h, name);
  stateOf(rt).hubs.add(hub);
  return hub;
}

function pow2(fn: string, arg: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (!isU32(v) || v === 0 || v > 65536 || (v & (v - 1)) !== 0) throw badParam(fn, arg, v, 'a power of two in [1, 65536]');
  return v;
}

/** Takes the NIC's send-complete chain and completes it up the stack. */
function completeSends(rt: Rt, v: VAdapter, flags: number): number {
  const head = rt.wasm.nicTakeDone(v.nic) >>> 0;
  const count = rt.wasm.errDetail() >>> 0;
  if (head !== 0) rt.NdisMSendNetBufferListsComplete(v.handle as NDIS_HANDLE, head as PNET_BUFFER_LIST, flags);
  return count;
}

/** @internal runtime.registerVirtualMiniport: netvmini's DriverEntry. Returns the NdisMiniportDriverHandle. */
export function registerVirtualMiniport(rtc: RuntimeCore, options: VirtualMiniportOptions = {}): NDIS_HANDLE {
  const fn = 'registerVirtualMiniport';
  const rt = rtc as Rt;
  if (typeof options !== 'object' || options === null) throw badParam(fn, 'options', options, 'an object');
  const tcbDefault = pow2(fn, 'options.tcbCount', options.tcbCount, 256);
  const rcbDefault = pow2(fn, 'options.rcbCount', options.rcbCount, 256);
  const st = () => stateOf(rt);
  const get = (ctx: number): VAdapter => {
    const v = st().byCtx.get(ctx);
    if (!v) throw ruleViolation('netvmini', 'MiniportAdapterContext', 'DRV-2', `${hexAddr(ctx)} is not an adapter of the virtual miniport`);
    return v;
  };

  const chars: NDIS_MINIPORT_DRIVER_CHARACTERISTICS = {
    Header: { Type: NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS, Revision: NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2, Size: 0x7c },
    MajorNdisVersion: 6,
    MinorNdisVersion: 20,
    MajorDriverVersion: 1,
    MinorDriverVersion: 0,

    // MPInitializeEx: the receive NBL pool (DataSize 1514: each RCB owns its frame buffer), the
    // NBLs of every RCB, the hardware, and the registration attributes.
    InitializeHandlerEx(NdisMiniportHandle: number, _ctx: number, params: NDIS_MINIPORT_INIT_PARAMETERS): number {
      const o = params.AdapterOptions;
      if (o.hub !== undefined && (!(o.hub instanceof Hub) || o.hub.rt !== rt)) throw badParam('createAdapter', 'options.hub', o.hub, 'a Hub of this runtime (runtime.createHub())');
      const hub = (o.hub as Hub | undefined) ?? (st().defaultHub ??= createHub(rt, 'default hub'));
      if (!hub) return NDIS_STATUS_RESOURCES; // no memory for the default hub
      const tcb = pow2('createAdapter', 'options.tcbCount', o.tcbCount, tcbDefault);
      const rcb = pow2('createAdapter', 'options.rcbCount', o.rcbCount, rcbDefault);
      const pool = rt.NdisAllocateNetBufferListPool(NdisMiniportHandle as NDIS_HANDLE, {
        Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: 1, Size: 12 + 8 },
        ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: TAG_RECV_NBL, DataSize: NIC_MAX_FRAME,
      });
      if (pool === 0) return NDIS_STATUS_RESOURCES;
      const nic = rt.wasm.nicCreate(tcb, rcb, NdisMiniportHandle) >>> 0;
      const nbls: number[] = [];
      const undo = () => {
        for (const n of nbls) rt.NdisFreeNetBufferList(n as PNET_BUFFER_LIST);
        if (nic) rt.wasm.nicDestroy(nic);
        rt.NdisFreeNetBufferListPool(pool);
        return NDIS_STATUS_RESOURCES;
      };
      if (nic === 0) return undo();
      for (let i = 0; i < rcb; i++) {
        const n = rt.NdisAllocateNetBufferList(pool, 0, 0) as number;
        if (n === 0) return undo();
        nbls.push(n);
      }
      // Post them only now: undo() frees NBLs the NIC does not hold.
      for (const n of nbls) {
        const e = rt.wasm.nicPostRecv(nic, n) >>> 0;
        if (e !== E.OK) throw new Error(`netvmini: posting a receive NBL failed (error ${e})`);
      }
      const ctx = st().nextCtx++;
      const v: VAdapter = { ctx, name: String(o.name), handle: NdisMiniportHandle, nic, hub, pool, pending: 0, pausing: false, ready: false };
      st().byCtx.set(ctx, v);
      hub.members.add(v);
      rt.NdisMSetMiniportAttributes(NdisMiniportHandle as NDIS_HANDLE, {
        Header: { Type: NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, Revision: 1, Size: 0x18 },
        MiniportAdapterContext: ctx,
      });
      if (o.macAddress !== undefined) {
        rt.NdisMSetMiniportAttributes(NdisMiniportHandle as NDIS_HANDLE, {
          Header: { Type: NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES, Revision: 1, Size: 0x80 },
          MtuSize: 1500, CurrentMacAddress: o.macAddress as ArrayLike<number>,
        });
      }
      return NDIS_STATUS_SUCCESS;
    },

    // MPRestart: join the hub and take frames again.
    RestartHandler(ctx: number): number {
      const v = get(ctx);
      const e = rt.wasm.nicAttach(v.nic, v.hub.handle) >>> 0;
      if (e !== E.OK) throw new Error(`netvmini: attaching to the hub failed (error ${e})`);
      rt.wasm.nicSetReady(v.nic, 1);
      v.hub.adapters.add(v);
      v.ready = true;
      return NDIS_STATUS_SUCCESS;
    },

    // MPPause / NICStopTheDatapath: leave the hub, fail the send backlog (PAUSED), drop frames
    // not yet indicated back onto the free RCBs; pend until every indicated NBL is back.
    PauseHandler(ctx: number): number {
      const v = get(ctx);
      v.ready = false;
      rt.wasm.nicSetReady(v.nic, 0);
      rt.wasm.nicDetach(v.nic);
      v.hub.adapters.delete(v);
      rt.wasm.nicStop(v.nic, NDIS_STATUS_PAUSED);
      completeSends(rt, v, 0);
      if (v.pending !== 0) {
        v.pausing = true;
        return NDIS_STATUS_PENDING;
      }
      return NDIS_STATUS_SUCCESS;
    },

    // MPSendNetBufferLists: queue to the hardware (one Wasm call for the chain); a paused
    // adapter completes them at once with NDIS_STATUS_PAUSED.
    SendNetBufferListsHandler(ctx: number, nbls: number, _port: number, flags: number): void {
      const v = get(ctx);
      if (!v.ready) {
        rt.sync();
        for (let p = nbls; p !== 0; p = rt.rd32(p + NBL.Next)) rt.u32[(p + NBL.Status) >>> 2] = NDIS_STATUS_PAUSED;
        rt.NdisMSendNetBufferListsComplete(v.handle as NDIS_HANDLE, nbls as PNET_BUFFER_LIST, flags & 1 ? NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL : 0);
        return;
      }
      const e = rt.wasm.nicSend(v.nic, nbls) >>> 0;
      if (e !== E.OK) throw new Error(`netvmini: queueing sends failed (error ${e})`);
      // NBLs without NBs complete at once (the DPC completes the others).
      const now = rt.wasm.nicTakeImmediate() >>> 0;
      if (now !== 0) rt.NdisMSendNetBufferListsComplete(v.handle as NDIS_HANDLE, now as PNET_BUFFER_LIST, flags & 1 ? NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL : 0);
    },

    // MPReturnNetBufferLists: each returned NBL is an RCB again.
    ReturnNetBufferListsHandler(ctx: number, nbls: number): void {
      const v = get(ctx);
      const r = rt.wasm.nicPostRecvChain(v.nic, nbls) >>> 0;
      if (r & 0x80000000) {
        v.pending -= rt.wasm.errDetail() >>> 0; // those posted before the failure
        throw new Error(`netvmini: re-posting a receive NBL failed (error ${r & 0x7fffffff})`);
      }
      v.pending -= r;
      if (v.pausing && v.pending === 0) {
        v.pausing = false;
        rt.NdisMPauseComplete(v.handle as NDIS_HANDLE);
      }
    },

    // MPCancelSend: queued sends with that cancel ID complete with NDIS_STATUS_SEND_ABORTED.
    CancelSendHandler(ctx: number, cancelId: number): void {
      const v = get(ctx);
      const n = rt.wasm.nicCancel(v.nic, cancelId, NDIS_STATUS_SEND_ABORTED) >>> 0;
      if (n !== 0) completeSends(rt, v, 0);
    },

    // MPHaltEx / NICFreeAdapter: the RCB NBLs, their pool, the hardware.
    HaltHandlerEx(ctx: number): void {
      const v = get(ctx);
      rt.wasm.nicDetach(v.nic);
      v.hub.adapters.delete(v);
      rt.wasm.nicStop(v.nic, NDIS_STATUS_PAUSED);
      completeSends(rt, v, 0);
      for (let n = rt.wasm.nicUnpostRecv(v.nic) >>> 0; n !== 0; n = rt.wasm.nicUnpostRecv(v.nic) >>> 0) rt.NdisFreeNetBufferList(n as PNET_BUFFER_LIST);
      const e = rt.wasm.nicDestroy(v.nic) >>> 0;
      if (e !== E.OK) throw new Error(`netvmini: the NIC still holds ${rt.wasm.errDetail() >>> 0} NBL(s) at halt`);
      rt.NdisFreeNetBufferListPool(v.pool as NDIS_HANDLE);
      st().byCtx.delete(ctx);
      v.hub.members.delete(v);
    },
  };
  const out = { value: 0 as NDIS_HANDLE | 0 };
  const s = rt.NdisMRegisterMiniportDriver(0, 'netvmini', 0, chars, out);
  if (s !== NDIS_STATUS_SUCCESS) throw new Error(`registerVirtualMiniport: NdisMRegisterMiniportDriver failed (0x${(s >>> 0).toString(16)})`);
  return out.value as NDIS_HANDLE;
}

/** Result of `runtime.runDpcs()`. */
export interface DpcResult {
  /** DPC passes run. */
  passes: number;
  /** Send NBLs completed. */
  sendsCompleted: number;
  /** Receive NBLs indicated. */
  receivesIndicated: number;
}

/**
 * @internal runtime.runDpcs: simulated DPC passes over every hub until nothing is left to do
 * (or `maxPasses`, default 100000: drivers that answer every frame with another would never
 * stop). Callbacks run as in a DPC: send-complete and receive flags carry
 * DISPATCH_LEVEL.
 */
export function runDpcs(rtc: RuntimeCore, options: { batch?: number; maxPasses?: number } = {}): DpcResult {
  const fn = 'runDpcs';
  const rt = rtc as Rt;
  const batch = options.batch ?? 64;
  const maxPasses = options.maxPasses ?? 100_000;
  if (!isU32(batch) || batch === 0) throw badParam(fn, 'options.batch', batch, 'a count >= 1');
  if (!(maxPasses >= 1)) throw badParam(fn, 'options.maxPasses', maxPasses, 'a count >= 1');
  runPnp(rt, fn); // verifier: TIME-SEND deadlines first (before any DPC work)
  const r: DpcResult = { passes: 0, sendsCompleted: 0, receivesIndicated: 0 };
  const s = stateOf(rt);
  // A DPC runs at DISPATCH_LEVEL: so do the completions and indications it makes.
  atDispatch(rt, true, () => dpcPasses(rt, s, r, batch, maxPasses));
  return r;
}

function dpcPasses(rt: Rt, s: VState, r: DpcResult, batch: number, maxPasses: number): void {
  let more = true;
  while (more && r.passes < maxPasses) {
    more = false;
    r.passes++;
    for (const hub of s.hubs) {
      if (hub.adapters.size === 0) continue;
      const w = rt.wasm.hubDpc(hub.handle, batch) >>> 0;
      if (w & 0x80000000) throw new Error(`runDpcs: hub ${hub.name} is not valid (error ${w & 0x7fffffff})`);
      if (w !== 0) more = true;
      for (const v of [...hub.adapters]) {
        const done = completeSends(rt, v, NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL);
        r.sendsCompleted += done;
        const head = rt.wasm.nicTakeRx(v.nic) >>> 0;
        const count = rt.wasm.errDetail() >>> 0;
        if (head !== 0) {
          v.pending += count;
          r.receivesIndicated += count;
          rt.NdisMIndicateReceiveNetBufferLists(v.handle as NDIS_HANDLE, head as PNET_BUFFER_LIST, 0, count, NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL | NDIS_RECEIVE_FLAGS_PERFECT_FILTERED);
        }
        // Callbacks may have sent more.
        if (done !== 0 || head !== 0) more = true;
      }
    }
  }
}

/** @internal Counters of a virtual adapter by its NdisMiniportHandle (undefined for other miniports). */
export function virtualCounters(rt: RuntimeCore, handle: number): NicCounters | undefined {
  for (const v of stateOf(rt).byCtx.values()) if (v.handle === handle) return countersOf(rt, v);
  return undefined;
}
