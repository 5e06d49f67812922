/**
 * The NDIS 6 driver model (seed 000, NDIS-SPEC §6): miniport, protocol, filter and intermediate
 * drivers, the handles NDIS gives each of them (the NdisHandle they pass to the pool
 * allocators), the adapter life cycle (initialize → restart → running ⇄ paused → halt), and the
 * NET_BUFFER_LIST paths: send down and send-complete up, indicate up and return down, through
 * the filter stack of each adapter.
 *
 * Every handle (miniport driver, adapter, filter driver, filter module, binding) is a record in
 * linear memory of the same kind as protocol handles, so any of them can own pools, and freeing
 * a handle that still owns pools is POOL-6. The JS side keeps the callbacks and the state.
 *
 * Ownership (OWN-1): an NBL passed down (send) belongs to the drivers below until its
 * send-complete reaches the driver that sent it; an NBL indicated up without
 * NDIS_RECEIVE_FLAGS_RESOURCES belongs to the drivers above until every protocol that got it
 * returned it and the return reached the driver that indicated it. Meanwhile the owner may not
 * free it, send it or indicate it again.
 *
 * Verifier mode adds two rules of the data path. OWN-3: the NET_BUFFER chain of an NBL (its
 * FirstNetBuffer and each NB's Next) is recorded when its creator sends or indicates it, and every
 * driver that passes it on (down, up, completes or returns it) must hand it on with that chain.
 * TIME-SEND (Driver Verifier's NdisTimedDataSend / NdisTimedDataHang): the miniport completes each
 * send within 30 s, and with sends pending completes one at least every 22 s, by `runtime.clock()`;
 * the deadlines are checked at every send, send completion, runDpcs(), pnp() and checkTimers().
 */
import { U32Map, U32Set } from './u32map.js';
import { RuntimeCore, isU32 } from '../core.js';
import {
  NdisBugCheck, BUGCODE_NDIS_DRIVER, BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION, NDIS_TIMED_DATA_SEND, NDIS_TIMED_DATA_HANG,
  badParam, ruleViolation, hexAddr,
} from '../errors.js';
import {
  type NDIS_HANDLE, type NDIS_STATUS, type NULL, type Out, type NDIS_OBJECT_HEADER,
  NDIS_STATUS_SUCCESS, NDIS_STATUS_PENDING, NDIS_STATUS_RESOURCES, NDIS_STATUS_BAD_VERSION,
  NDIS_STATUS_BAD_CHARACTERISTICS, NDIS_STATUS_FAILURE, NDIS_STATUS_INVALID_PARAMETER,
} from './constants.js';
import { E, NB, NBL } from './layout.js';
import { isOut, type NDIS_PROTOCOL_DRIVER_CHARACTERISTICS } from './handles.js';
import { chainFail, type PNET_BUFFER_LIST } from './nbl.js';
import { atDispatch } from './irql.js';
import { verifierOf } from '../verifier.js';

// -- constants (ndis.h) ------------------------------------------------------------------------

export const NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS = 0x81;
export const NDIS_OBJECT_TYPE_BIND_PARAMETERS = 0x86;
export const NDIS_OBJECT_TYPE_OPEN_PARAMETERS = 0x87;
export const NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS = 0x8a;
export const NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS = 0x8b;
export const NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES = 0x8d;
export const NDIS_OBJECT_TYPE_FILTER_ATTACH_PARAMETERS = 0x99;
export const NDIS_OBJECT_TYPE_FILTER_PAUSE_PARAMETERS = 0x9a;
export const NDIS_OBJECT_TYPE_FILTER_RESTART_PARAMETERS = 0x9b;
export const NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES = 0x9e;
export const NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES = 0x9f;
export const NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1 = 1;
export const NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2 = 2;
export const NDIS_FILTER_CHARACTERISTICS_REVISION_1 = 1;
export const NDIS_FILTER_CHARACTERISTICS_REVISION_2 = 2;

export const NDIS_STATUS_PAUSED = 0xc023002a | 0;
export const NDIS_STATUS_SEND_ABORTED = 0xc023000c | 0;
export const NDIS_STATUS_INVALID_DATA = 0xc0010015 | 0;
export const NDIS_STATUS_ADAPTER_NOT_READY = 0xc0010011 | 0;

export const NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL = 0x00000001;
export const NDIS_RECEIVE_FLAGS_RESOURCES = 0x00000002;
export const NDIS_RECEIVE_FLAGS_SINGLE_ETHER_TYPE = 0x00000100;
export const NDIS_RECEIVE_FLAGS_SINGLE_VLAN = 0x00000200;
export const NDIS_RECEIVE_FLAGS_PERFECT_FILTERED = 0x00000400;
export const NDIS_RECEIVE_FLAGS_SINGLE_QUEUE = 0x00000800;
export const NDIS_RETURN_FLAGS_DISPATCH_LEVEL = 0x00000001;
export const NDIS_SEND_FLAGS_DISPATCH_LEVEL = 0x00000001;
export const NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL = 0x00000001;
export const NDIS_DEFAULT_PORT_NUMBER = 0;

/** NDIS_HALT_ACTION. */
export const NdisHaltDeviceDisabled = 0;
export const NdisHaltDeviceInstanceDeInitialized = 1;
/** The cancel-ID slot of NetBufferListInfo (NetBufferListCancelId). */
export const NetBufferListCancelId = 5;

/** The bug check parameter 1 of a leaked NBL (NDIS_BUGCHECK_LEAKED_NBL). */
const NDIS_BUGCHECK_LEAKED_NBL = 0x27;

// -- characteristics and parameters (C field names; handlers are JS functions) ----------------

/** A driver callback. */
export type Handler = (...args: never[]) => unknown;

/** NDIS_MINIPORT_DRIVER_CHARACTERISTICS. */
export interface NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
  Header: NDIS_OBJECT_HEADER;
  MajorNdisVersion: number;
  MinorNdisVersion: number;
  MajorDriverVersion?: number;
  MinorDriverVersion?: number;
  Flags?: number;
  SetOptionsHandler?: Handler | null;
  /** (NdisMiniportHandle, MiniportDriverContext, MiniportInitParameters) → NDIS_STATUS */
  InitializeHandlerEx: Handler;
  /** (MiniportAdapterContext, HaltAction) */
  HaltHandlerEx: Handler;
  UnloadHandler?: Handler | null;
  /** (MiniportAdapterContext, PauseParameters) → NDIS_STATUS (SUCCESS or PENDING) */
  PauseHandler: Handler;
  /** (MiniportAdapterContext, RestartParameters) → NDIS_STATUS */
  RestartHandler: Handler;
  OidRequestHandler?: Handler | null;
  /** (MiniportAdapterContext, NetBufferLists, PortNumber, SendFlags) */
  SendNetBufferListsHandler: Handler;
  /** (MiniportAdapterContext, NetBufferLists, ReturnFlags) */
  ReturnNetBufferListsHandler: Handler;
  /** (MiniportAdapterContext, CancelId) */
  CancelSendHandler: Handler;
  CheckForHangHandlerEx?: Handler | null;
  ResetHandlerEx?: Handler | null;
  DevicePnPEventNotifyHandler?: Handler | null;
  ShutdownHandlerEx?: Handler | null;
  CancelOidRequestHandler?: Handler | null;
}

const REQUIRED_MINIPORT_HANDLERS = [
  'InitializeHandlerEx', 'HaltHandlerEx', 'PauseHandler', 'RestartHandler', 'SendNetBufferListsHandler',
  'ReturnNetBufferListsHandler', 'CancelSendHandler',
] as const;

/** NDIS_FILTER_DRIVER_CHARACTERISTICS. Optional handlers absent: NDIS bypasses the filter on that path. */
export interface NDIS_FILTER_DRIVER_CHARACTERISTICS {
  Header: NDIS_OBJECT_HEADER;
  MajorNdisVersion: number;
  MinorNdisVersion: number;
  MajorDriverVersion?: number;
  MinorDriverVersion?: number;
  Flags?: number;
  FriendlyName: string;
  UniqueName: string;
  ServiceName: string;
  SetOptionsHandler?: Handler | null;
  SetFilterModuleOptionsHandler?: Handler | null;
  /** (NdisFilterHandle, FilterDriverContext, AttachParameters) → NDIS_STATUS */
  AttachHandler: Handler;
  /** (FilterModuleContext) */
  DetachHandler: Handler;
  /** (FilterModuleContext, RestartParameters) → NDIS_STATUS */
  RestartHandler: Handler;
  /** (FilterModuleContext, PauseParameters) → NDIS_STATUS */
  PauseHandler: Handler;
  /** (FilterModuleContext, NetBufferLists, PortNumber, SendFlags) */
  SendNetBufferListsHandler?: Handler | null;
  /** (FilterModuleContext, NetBufferLists, SendCompleteFlags) */
  SendNetBufferListsCompleteHandler?: Handler | null;
  /** (FilterModuleContext, CancelId) */
  CancelSendNetBufferListsHandler?: Handler | null;
  /** (FilterModuleContext, NetBufferLists, PortNumber, NumberOfNetBufferLists, ReceiveFlags) */
  ReceiveNetBufferListsHandler?: Handler | null;
  /** (FilterModuleContext, NetBufferLists, ReturnFlags) */
  ReturnNetBufferListsHandler?: Handler | null;
  OidRequestHandler?: Handler | null;
  OidRequestCompleteHandler?: Handler | null;
  StatusHandler?: Handler | null;
  DevicePnPEventNotifyHandler?: Handler | null;
  NetPnPEventHandler?: Handler | null;
}

const REQUIRED_FILTER_HANDLERS = ['AttachHandler', 'DetachHandler', 'RestartHandler', 'PauseHandler'] as const;
const OPTIONAL_FILTER_HANDLERS = [
  'SetOptionsHandler', 'SetFilterModuleOptionsHandler', 'SendNetBufferListsHandler', 'SendNetBufferListsCompleteHandler',
  'CancelSendNetBufferListsHandler', 'ReceiveNetBufferListsHandler', 'ReturnNetBufferListsHandler', 'OidRequestHandler',
  'OidRequestCompleteHandler', 'StatusHandler', 'DevicePnPEventNotifyHandler', 'NetPnPEventHandler',
] as const;

/** NDIS_MINIPORT_INIT_PARAMETERS as this model fills it (C names), plus the adapter's options. */
export interface NDIS_MINIPORT_INIT_PARAMETERS {
  Header: NDIS_OBJECT_HEADER;
  Flags: number;
  /** The device instance context of an IM virtual miniport (NdisIMInitializeDeviceInstanceEx), else 0. */
  IMDeviceInstanceContext: number;
  MiniportAddDeviceContext: number;
  IfIndex: number;
  /** Not a C field: what `createAdapter` was given (name, MAC address, link speed, hub…). */
  AdapterOptions: AdapterOptions;
}

/** NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES (the part this model reads). */
export interface NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
  Header: NDIS_OBJECT_HEADER;
  MiniportAdapterContext: number;
  AttributeFlags?: number;
  CheckForHangTimeInSeconds?: number;
  InterfaceType?: number;
}

/** NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES (the part this model reads). */
export interface NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
  Header: NDIS_OBJECT_HEADER;
  MtuSize?: number;
  MaxXmitLinkSpeed?: number;
  MaxRcvLinkSpeed?: number;
  /** 6 bytes. */
  CurrentMacAddress?: ArrayLike<number>;
  MacOptions?: number;
}

/** NDIS_BIND_PARAMETERS as passed to BindAdapterHandlerEx (the fields this model fills). */
export interface NDIS_BIND_PARAMETERS {
  Header: NDIS_OBJECT_HEADER;
  AdapterName: string;
  /** 6 bytes. */
  CurrentMacAddress: number[];
  MtuSize: number;
  MaxXmitLinkSpeed: number;
  MaxRcvLinkSpeed: number;
}

/** NDIS_OPEN_PARAMETERS (what NdisOpenAdapterEx reads). */
export interface NDIS_OPEN_PARAMETERS {
  Header: NDIS_OBJECT_HEADER;
  AdapterName: string;
  MediumArray?: number[];
  MediumArraySize?: number;
  SelectedMediumIndex?: Out<number>;
  FrameTypeArray?: number[];
  FrameTypeArraySize?: number;
}

/** NDIS_FILTER_ATTACH_PARAMETERS as passed to FilterAttach (the fields this model fills). */
export interface NDIS_FILTER_ATTACH_PARAMETERS {
  Header: NDIS_OBJECT_HEADER;
  IfIndex: number;
  BaseMiniportName: string;
  /** 6 bytes. */
  CurrentMacAddress: number[];
  MtuSize: number;
}

/** NDIS_FILTER_ATTRIBUTES. */
export interface NDIS_FILTER_ATTRIBUTES {
  Header: NDIS_OBJECT_HEADER;
  Flags?: number;
}

/** Options of `runtime.createAdapter`. */
export interface AdapterOptions {
  /** The adapter's name (BaseMiniportName, AdapterName). */
  name: string;
  /** 6 bytes; default 02-00-00-00-00-nn (locally administered, nn = adapter number). */
  macAddress?: ArrayLike<number>;
  /** Bits per second; default 100 Mb/s (netvmini). */
  linkSpeed?: number;
  /** Miniport-specific options (the virtual miniport reads `hub`, `tcbCount`, `rcbCount`). */
  [key: string]: unknown;
}

// -- model state --------------------------------------------------------------------------------

type AdapterState = 'initializing' | 'paused' | 'restarting' | 'running' | 'pausing' | 'halted';

interface MiniportDriver {
  type: 'miniport';
  handle: number;
  context: number;
  chars: NDIS_MINIPORT_DRIVER_CHARACTERISTICS;
  adapters: Set<AdapterRecord>;
  /** NdisIMAssociateMiniport: the protocol half of an intermediate driver. */
  imProtocol: number;
  /** The DriverObject it registered with (verifier: generic objects allocated with it). */
  driverObject: number;
}

interface ProtocolRecord {
  type: 'protocol';
  handle: number;
  context: number;
  chars: NDIS_PROTOCOL_DRIVER_CHARACTERISTICS;
  bindings: Set<Binding>;
  /** The miniport driver this protocol is the lower edge of (IM), or 0. */
  imMiniport: number;
}

interface FilterDriver {
  type: 'filter';
  handle: number;
  context: number;
  chars: NDIS_FILTER_DRIVER_CHARACTERISTICS;
  modules: Set<FilterModule>;
  driverObject: number;
}

/** @internal An adapter (miniport instance): what `createAdapter` returns wraps it. */
export interface AdapterRecord {
  type: 'adapter';
  handle: number;
  driver: MiniportDriver;
  name: string;
  mac: number[];
  linkSpeed: number;
  options: AdapterOptions;
  state: AdapterState;
  /** MiniportAdapterContext (NdisMSetMiniportAttributes); undefined until set. */
  context: number | undefined;
  /** Filter modules, bottom (next to the miniport) first. */
  filters: FilterModule[];
  bindings: Set<Binding>;
  /** NBLs the miniport was given to send and has not completed. */
  atMiniport: U32Set;
  /**
   * Verifier (TIME-SEND): when each NBL of `atMiniport` was given to the miniport (runtime.clock()
   * milliseconds), oldest first.
   */
  sentAt: Map<number, number>;
  /** Verifier (TIME-SEND): the last send completion, or when sends became pending after none were. */
  hangRef: number;
  /** Receive NBLs the miniport indicated that have not come back. */
  indicated: number;
  /** A pause the miniport pended (NdisMPauseComplete ends it). */
  pausePending: boolean;
  /** The PauseHandler returned SUCCESS with NBLs outstanding (DRV-2): paused once they are back. */
  pauseEarly: boolean;
}

interface FilterModule {
  type: 'module';
  handle: number;
  driver: FilterDriver;
  adapter: AdapterRecord;
  context: number | undefined;
  state: 'attaching' | 'paused' | 'running';
}

interface Binding {
  type: 'binding';
  handle: number;
  protocol: ProtocolRecord;
  adapter: AdapterRecord;
  context: number;
  /** Sends on this binding not yet completed to it. */
  sends: number;
  /** Receive NBLs this binding holds (got, not yet returned). */
  held: U32Set;
  open: boolean;
}

type Origin = Binding | FilterModule | AdapterRecord;

/** Where an NBL is while it is away from its owner. */
class Flight {
  constructor(
    readonly dir: 'send' | 'recv',
    readonly origin: Origin,
    readonly adapter: AdapterRecord,
    /** A receive indicated with NDIS_RECEIVE_FLAGS_RESOURCES: away only during the indication. */
    readonly resources = false,
  ) {}
  get where(): string {
    return this.dir === 'send'
      ? `sent on ${describe(this.origin)} and is not completed yet`
      : `indicated by ${describe(this.origin)} and is not returned yet`;
  }
}

function describe(o: Origin | MiniportDriver | ProtocolRecord | FilterDriver): string {
  switch (o.type) {
    case 'binding': return `binding ${hexAddr(o.handle)} (${o.protocol.chars.Name} on ${o.adapter.name})`;
    case 'module': return `filter module ${hexAddr(o.handle)} (${o.driver.chars.FriendlyName} on ${o.adapter.name})`;
    case 'adapter': return `adapter ${hexAddr(o.handle)} (${o.name})`;
    case 'miniport': return `miniport driver ${hexAddr(o.handle)}`;
    case 'protocol': return `protocol ${hexAddr(o.handle)} (${o.chars.Name})`;
    case 'filter': return `filter driver ${hexAddr(o.handle)} (${o.chars.FriendlyName})`;
  }
}

type Obj = MiniportDriver | ProtocolRecord | FilterDriver | AdapterRecord | FilterModule | Binding;

/** @internal The driver model of one runtime. */
export class DriverModel {
  readonly objects = new Map<number, Obj>();
  readonly miniports: MiniportDriver[] = [];
  readonly filterDrivers: FilterDriver[] = [];
  readonly adapters: AdapterRecord[] = [];
  /** PnP work deferred to runtime.pnp(): binding late protocols, attaching late filters. */
  readonly pnpWork: (() => void)[] = [];
  /**
   * Verifier (OWN-3): the NET_BUFFER chain of each NBL away from its creator, as the creator sent
   * or indicated it (FirstNetBuffer, then each Next).
   */
  readonly nbChains = new Map<number, number[]>();
  adapterSerial = 0;
  constructor(readonly epoch: number) {}
}

const models = new WeakMap<RuntimeCore, DriverModel>();

/** @internal The runtime's driver model (a fresh one after reset). */
export function modelOf(rt: RuntimeCore): DriverModel {
  let m = models.get(rt);
  if (!m || m.epoch !== rt.epoch) {
    m = new DriverModel(rt.epoch);
    models.set(rt, m);
  }
  return m;
}

// -- helpers ------------------------------------------------------------------------------------

/**
 * Where each NBL away from its owner is (a Flight shared by every NBL of that origin, direction
 * and adapter). The runtime's map, so that NdisFreeNetBufferList can check OWN-1.
 */
function awayOf(rt: RuntimeCore): U32Map<Flight> {
  return rt.nblsAway as U32Map<Flight>;
}

/** Flights made so far, per origin: a Flight is immutable, so one serves every call alike. */
const flights = new WeakMap<Origin, Flight[]>();

/** The Flight of `dir` from `origin` on `adapter` (made once, then reused). */
function flightOf(dir: 'send' | 'recv', origin: Origin, adapter: AdapterRecord, resources = false): Flight {
  let list = flights.get(origin);
  if (!list) flights.set(origin, (list = []));
  for (const f of list) if (f.dir === dir && f.adapter === adapter && f.resources === resources) return f;
  const f = new Flight(dir, origin, adapter, resources);
  list.push(f);
  return f;
}

/**
 * Protocol bindings still holding a received NBL: kept in the NBL's NdisReserved[0], the field
 * NDIS reserves for itself, so the count costs no JS allocation.
 */
function refsOf(rt: RuntimeCore, nbl: number): number {
  return rt.u32[(nbl + NBL.NdisReserved) >>> 2]!;
}
function setRefs(rt: RuntimeCore, nbl: number, n: number): void {
  rt.u32[(nbl + NBL.NdisReserved) >>> 2] = n;
}

function handleArg<T extends Obj['type']>(rt: RuntimeCore, fn: string, arg: string, h: unknown, type: T, what: string): Extract<Obj, { type: T }> {
  if (!isU32(h)) throw badParam(fn, arg, h, `an NDIS_HANDLE (${what})`);
  const o = modelOf(rt).objects.get(h);
  if (!o || o.type !== type) {
    const is = o ? `a ${o.type === 'module' ? 'filter module' : o.type} handle` : h === 0 ? 'NULL' : 'not a live handle';
    throw ruleViolation(fn, arg, 'DRV-2', `${hexAddr(h)} is ${is}; expected ${what}`, h);
  }
  return o as Extract<Obj, { type: T }>;
}

/** A new handle record (it can own pools). 0 when memory is exhausted. */
function newHandle(rt: RuntimeCore, context: number): number {
  return rt.wasm.protocolRegister(context >>> 0, 0, 0, 0) >>> 0;
}

/** Frees a handle record: POOL-6 when it still owns pools. */
function freeHandle(rt: RuntimeCore, fn: string, arg: string, h: number): void {
  const v = verifierOf(rt);
  v?.checkRelease(fn, h); // verifier: LEAK-MDL / LEAK-MEM
  const e = rt.wasm.protocolDeregister(h) >>> 0;
  if (e !== E.OK) {
    const err = rt.fail(fn, e, [arg], [h], 'an NDIS handle', 'ORIGIN');
    throw v && err.rule === 'POOL-6' ? v.explainPool6(err, h) : err;
  }
  modelOf(rt).objects.delete(h);
}

/** Checks a chain and returns its NBLs (one array per call: the driver model is not the hot path). */
function chainArg(rt: RuntimeCore, fn: string, head: unknown): number[] {
  if (!isU32(head) || head === 0) throw badParam(fn, 'NetBufferLists', head, 'a non-NULL PNET_BUFFER_LIST chain');
  const e = rt.wasm.nblCountChain(head) >>> 0;
  if (e !== E.OK) throw chainFail(rt, fn, e, head);
  rt.sync();
  const out: number[] = [];
  for (let p = head; p !== 0; p = rt.rd32(p + NBL.Next)) out.push(p);
  return out;
}

/** Relinks `nbls` through NBL.Next; returns the head (0 for none). */
function link(rt: RuntimeCore, nbls: readonly number[]): number {
  rt.sync();
  for (let i = 0; i < nbls.length; i++) rt.u32[(nbls[i]! + NBL.Next) >>> 2] = i + 1 < nbls.length ? nbls[i + 1]! : 0;
  return nbls.length ? nbls[0]! : 0;
}

// -- verifier: OWN-3 (the NET_BUFFER chain of an NBL is its creator's) ----------------------------

/** Longest NET_BUFFER chain recorded; a longer one (or one that loops) is not checked. */
const MAX_RECORDED_NBS = 1 << 16;

/**
 * Verifier: records the NET_BUFFER chain of `nbls` as their creator hands them on (a send or an
 * indication of its own). Normal mode: nothing.
 */
function recordChains(rt: RuntimeCore, nbls: readonly number[]): void {
  if (!rt.verifier) return;
  const chains = modelOf(rt).nbChains;
  rt.sync();
  for (const n of nbls) {
    const nbs: number[] = [];
    let p = rt.rd32(n + NBL.FirstNetBuffer);
    while (p !== 0 && nbs.length < MAX_RECORDED_NBS) {
      nbs.push(p);
      p = rt.rd32(p + NB.Next);
    }
    if (p === 0) chains.set(n, nbs);
    else chains.delete(n);
  }
}

/** Verifier: `nbl` is back with its creator (or no longer away): its recorded chain is dropped. */
function forgetChain(rt: RuntimeCore, nbl: number): void {
  if (rt.verifier) modelOf(rt).nbChains.delete(nbl);
}

/** Who holds an NBL, as OWN-3 names it. */
function holderName(o: Origin): string {
  return o.type === 'adapter' ? `the miniport of ${describe(o)}` : describe(o);
}

/**
 * Verifier, OWN-3: `holder`, which did not create `nbl`, hands it on; its NET_BUFFER chain must be
 * the one its creator handed on. Nothing is restored: the bug check reports the first link that
 * differs (P4: 0 for FirstNetBuffer, i for the Next of the i-th NET_BUFFER).
 */
function checkChain(rt: RuntimeCore, fn: string, arg: string, nbl: number, holder: Origin): void {
  const m = modelOf(rt);
  const was = m.nbChains.get(nbl);
  if (!was) return;
  rt.sync();
  let p = rt.rd32(nbl + NBL.FirstNetBuffer);
  for (let i = 0; ; i++) {
    const want = i < was.length ? was[i]! : 0;
    if (p !== want) {
      const link = i === 0
        ? `NET_BUFFER_LIST_FIRST_NB is ${hexAddr(p)} (was ${hexAddr(want)})`
        : `NET_BUFFER_NEXT_NB of its NET_BUFFER ${i} (${hexAddr(was[i - 1]!)}) is ${hexAddr(p)} (was ${hexAddr(want)})`;
      const origin = awayOf(rt).get(nbl)?.origin;
      throw ruleViolation(fn, arg, 'OWN-3',
        `${hexAddr(nbl)}'s NET_BUFFER chain was changed while ${holderName(holder)} had it: ${link}; only the driver that created the NBL${origin ? ` (${describe(origin)})` : ''} may edit its NET_BUFFER chain`,
        nbl, holder.handle, i);
    }
    if (p === 0) return;
    p = rt.rd32(p + NB.Next);
  }
}

// -- verifier: TIME-SEND (NdisTimedDataSend / NdisTimedDataHang) ---------------------------------

/** NdisTimedDataSend: each send is completed within this many milliseconds. */
export const SEND_COMPLETE_TIMEOUT_MS = 30_000;
/** NdisTimedDataHang: with sends pending, some send completes at least this often (ms). */
export const SEND_HANG_TIMEOUT_MS = 22_000;

function readClock(rt: RuntimeCore, fn: string): number {
  const now = rt.clock();
  if (typeof now !== 'number' || !Number.isFinite(now)) throw badParam(fn, 'runtime.clock()', now, 'a finite number of milliseconds');
  return now;
}

const ms = (t: number) => (Number.isInteger(t) ? String(t) : t.toFixed(3));

/**
 * @internal Verifier, TIME-SEND: at `runtime.clock()`, no send may be pending at a miniport for
 * more than 30 s, and no adapter with sends pending may have gone 22 s without a send completion.
 * Exactly at a deadline is in time. Of the deadlines passed, the earliest is reported (0xC4 with
 * Driver Verifier's Parameter 1; P2 the NBL, P3 the adapter handle, P4 how late in ms). Checks
 * only; changes nothing. Returns the time it read. Normal mode: returns 0 and reads no clock.
 */
export function checkSendTimers(rt: RuntimeCore, fn: string): number {
  if (!rt.verifier) return 0;
  const now = readClock(rt, fn);
  let worst: { hang: boolean; a: AdapterRecord; nbl: number; since: number; deadline: number } | undefined;
  for (const a of modelOf(rt).adapters) {
    if (a.sentAt.size === 0) continue;
    const [nbl, sent] = a.sentAt.entries().next().value!; // the oldest (clock() never runs backwards)
    const sendDeadline = sent + SEND_COMPLETE_TIMEOUT_MS;
    const hangDeadline = a.hangRef + SEND_HANG_TIMEOUT_MS;
    if (now > sendDeadline && (!worst || sendDeadline < worst.deadline)) worst = { hang: false, a, nbl, since: sent, deadline: sendDeadline };
    if (now > hangDeadline && (!worst || hangDeadline < worst.deadline)) worst = { hang: true, a, nbl, since: a.hangRef, deadline: hangDeadline };
  }
  if (!worst) return now;
  const { hang, a, nbl, since, deadline } = worst;
  const late = now - deadline;
  const what = hang
    ? `${describe(a)} has ${a.sentAt.size} send(s) pending and its miniport completed none for ${ms(now - since)} ms (since ${ms(since)} ms; now ${ms(now)} ms): with sends pending it must complete one at least every ${SEND_HANG_TIMEOUT_MS} ms (NdisTimedDataHang, ${ms(late)} ms late; the oldest pending is ${hexAddr(nbl)})`
    : `${hexAddr(nbl)}, given to the miniport of ${describe(a)} at ${ms(since)} ms, is not completed at ${ms(now)} ms: a miniport must complete each send within ${SEND_COMPLETE_TIMEOUT_MS} ms (NdisTimedDataSend, ${ms(late)} ms late)`;
  const err = new NdisBugCheck(fn, undefined, 'TIME-SEND', BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION,
    [hang ? NDIS_TIMED_DATA_HANG : NDIS_TIMED_DATA_SEND, nbl, a.handle, Math.min(0xffffffff, Math.ceil(late))], what);
  throw Object.assign(err, { netBufferList: nbl, adapter: a.handle, lateMs: late });
}

/** Verifier, TIME-SEND: `nbls` reach the miniport of `a` now. */
function sentToMiniport(rt: RuntimeCore, a: AdapterRecord, nbls: readonly number[]): void {
  const now = readClock(rt, 'MiniportSendNetBufferLists');
  if (a.sentAt.size === 0) a.hangRef = now;
  for (const n of nbls) a.sentAt.set(n, now);
}

function leak(fn: string, arg: string, owner: Origin | ProtocolRecord, count: number, what: string): NdisBugCheck {
  return new NdisBugCheck(fn, arg, 'LEAK-NBL', BUGCODE_NDIS_DRIVER, [NDIS_BUGCHECK_LEAKED_NBL, owner.handle, count, 0],
    `${describe(owner)} still has ${count} NET_BUFFER_LIST(s) ${what}`);
}

function header(type: number, revision: number, size: number): NDIS_OBJECT_HEADER {
  return { Type: type, Revision: revision, Size: size };
}

function statusOf(fn: string, handler: string, v: unknown, allowPending: boolean): number {
  if (typeof v !== 'number' || v !== (v | 0)) {
    throw ruleViolation(fn, handler, 'DRV-3', `returned ${typeof v === 'number' ? v : typeof v}, not an NDIS_STATUS`);
  }
  if (v === NDIS_STATUS_PENDING && !allowPending) {
    throw ruleViolation(fn, handler, 'DRV-3', 'returned NDIS_STATUS_PENDING, which this model does not support for this handler (complete synchronously)');
  }
  return v;
}

function checkVersion(c: { MajorNdisVersion: unknown; MinorNdisVersion: unknown }): boolean {
  return c.MajorNdisVersion === 6 && isU32(c.MinorNdisVersion) && c.MinorNdisVersion <= 89;
}

// -- the stack walks ----------------------------------------------------------------------------

/** Sends `nbls` down from above filter level `level` (filters.length: from the protocols). */
function sendDown(rt: RuntimeCore, a: AdapterRecord, level: number, nbls: number[], port: number, flags: number): void {
  for (let i = level - 1; i >= 0; i--) {
    const f = a.filters[i]!;
    const h = f.driver.chars.SendNetBufferListsHandler;
    if (typeof h === 'function') {
      atDispatch(rt, (flags & 1) !== 0, () => (h as (c: number, n: number, p: number, f: number) => void)(f.context!, link(rt, nbls), port, flags));
      return;
    }
  }
  if (rt.verifier) sentToMiniport(rt, a, nbls);
  for (const n of nbls) a.atMiniport.add(n);
  atDispatch(rt, (flags & 1) !== 0, () => (a.driver.chars.SendNetBufferListsHandler as (c: number, n: number, p: number, f: number) => void)(a.context!, link(rt, nbls), port, flags));
}

/** Completes `nbls` upward from filter level `level` (-1: from the miniport). */
function completeUp(rt: RuntimeCore, a: AdapterRecord, level: number, nbls: number[], flags: number): void {
  const away = awayOf(rt);
  for (let i = level + 1; i < a.filters.length; i++) {
    const f = a.filters[i]!;
    const h = f.driver.chars.SendNetBufferListsCompleteHandler;
    if (typeof h === 'function') {
      // The filter owns the NBLs it sent again from here on.
      for (const n of nbls) {
        if (away.get(n)?.origin === f) {
          away.delete(n);
          forgetChain(rt, n);
        }
      }
      atDispatch(rt, (flags & 1) !== 0, () => (h as (c: number, n: number, f: number) => void)(f.context!, link(rt, nbls), flags));
      return;
    }
  }
  // Above every filter: each NBL goes back to the binding that sent it (usually all to one).
  const first = away.get(nbls[0]!)!.origin as Binding;
  let one = true;
  for (const n of nbls) if (away.get(n)!.origin !== first) { one = false; break; }
  if (one) return completeTo(rt, first, nbls, flags);
  const byBinding = new Map<Binding, number[]>();
  for (const n of nbls) {
    const b = away.get(n)!.origin as Binding;
    let list = byBinding.get(b);
    if (!list) byBinding.set(b, (list = []));
    list.push(n);
  }
  for (const [b, list] of byBinding) completeTo(rt, b, list, flags);
}

/** Completes `list` (sent on `b`) to its protocol: they are its own again. */
function completeTo(rt: RuntimeCore, b: Binding, list: number[], flags: number): void {
  const away = awayOf(rt);
  for (const n of list) {
    away.delete(n);
    forgetChain(rt, n);
  }
  b.sends -= list.length;
  atDispatch(rt, (flags & 1) !== 0, () => (b.protocol.chars.SendNetBufferListsCompleteHandler as (c: number, n: number, f: number) => void)(b.context, link(rt, list), flags));
}

/** Indicates `nbls` upward from filter level `level` (-1: from the miniport). */
function indicateUp(rt: RuntimeCore, a: AdapterRecord, level: number, nbls: number[], port: number, flags: number): void {
  for (let i = level + 1; i < a.filters.length; i++) {
    const f = a.filters[i]!;
    const h = f.driver.chars.ReceiveNetBufferListsHandler;
    if (typeof h === 'function') {
      atDispatch(rt, (flags & 1) !== 0, () => (h as (c: number, n: number, p: number, k: number, f: number) => void)(f.context!, link(rt, nbls), port, nbls.length, flags));
      // With RESOURCES the NBLs are handed back when the handler returns (OWN-3).
      if (rt.verifier && (flags & NDIS_RECEIVE_FLAGS_RESOURCES) !== 0) nbls.forEach((n, k) => checkChain(rt, 'FilterReceiveNetBufferLists', `NetBufferLists[${k}]`, n, f));
      return;
    }
  }
  const resources = (flags & NDIS_RECEIVE_FLAGS_RESOURCES) !== 0;
  const bindings = a.bindings; // open bindings only (NdisCloseAdapterEx removes them)
  if (!resources) for (const n of nbls) setRefs(rt, n, bindings.size);
  if (bindings.size === 0) {
    // Nobody above: NDIS returns the NBLs at once.
    if (!resources) returnDown(rt, a, a.filters.length, nbls, flags & NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL ? NDIS_RETURN_FLAGS_DISPATCH_LEVEL : 0);
    return;
  }
  for (const b of [...bindings]) {
    if (!resources) for (const n of nbls) b.held.add(n);
    atDispatch(rt, (flags & 1) !== 0, () => (b.protocol.chars.ReceiveNetBufferListsHandler as (c: number, n: number, p: number, k: number, f: number) => void)(b.context, link(rt, nbls), port, nbls.length, flags));
    if (rt.verifier && resources) nbls.forEach((n, k) => checkChain(rt, 'ProtocolReceiveNetBufferLists', `NetBufferLists[${k}]`, n, b));
  }
}

/** Returns `nbls` down from above filter level `level` to whoever indicated each. */
function returnDown(rt: RuntimeCore, a: AdapterRecord, level: number, nbls: number[], flags: number): void {
  for (let i = level - 1; i >= 0; i--) {
    const f = a.filters[i]!;
    const h = f.driver.chars.ReturnNetBufferListsHandler;
    // A filter gets the returns of what passed through it and of what it indicated itself
    // (those are its own again from here on).
    if (typeof h === 'function') {
      const away = awayOf(rt);
      for (const n of nbls) {
        if (away.get(n)?.origin === f) {
          away.delete(n);
          forgetChain(rt, n);
        }
      }
      atDispatch(rt, (flags & 1) !== 0, () => (h as (c: number, n: number, f: number) => void)(f.context!, link(rt, nbls), flags));
      return;
    }
    // Without a return handler a filter cannot have indicated NBLs of its own.
  }
  const away = awayOf(rt);
  for (const n of nbls) {
    away.delete(n);
    forgetChain(rt, n);
  }
  a.indicated -= nbls.length;
  atDispatch(rt, (flags & 1) !== 0, () => (a.driver.chars.ReturnNetBufferListsHandler as (c: number, n: number, f: number) => void)(a.context!, link(rt, nbls), flags));
}

/** Pauses an adapter's stack: filters top-down, then the miniport. */
function pauseStack(rt: RuntimeCore, a: AdapterRecord, removing = false): void {
  const fn = 'pause';
  for (let i = a.filters.length - 1; i >= 0; i--) {
    const f = a.filters[i]!;
    if (f.state !== 'running') continue;
    statusOf(fn, 'FilterPause', (f.driver.chars.PauseHandler as (c: number, p: object) => unknown)(f.context!, { Header: header(NDIS_OBJECT_TYPE_FILTER_PAUSE_PARAMETERS, 1, 16), Flags: 0, PauseReason: 0 }), false);
    f.state = 'paused';
  }
  if (a.state !== 'running') return;
  a.state = 'pausing';
  const s = statusOf(fn, 'MiniportPause', (a.driver.chars.PauseHandler as (c: number, p: object) => unknown)(a.context!, { Header: header(0x80, 1, 16), Flags: 0, PauseReason: 0 }), true);
  // A pause that returned SUCCESS too early stays pending: complete the sends, return the
  // receives, then NdisMPauseComplete.
  a.pausePending = true;
  if (s !== NDIS_STATUS_PENDING) {
    a.pauseEarly = true;
    // While removing, the protocols unbind next and give back what they hold: judge then.
    if (removing) settleEarlyPause(rt, a);
    else pauseDone(rt, 'MiniportPause', a);
  }
}

/** The miniport finished pausing: nothing of the data path may be outstanding (DRV-2). */
function pauseDone(rt: RuntimeCore, fn: string, a: AdapterRecord): void {
  if (a.atMiniport.size !== 0 || a.indicated !== 0) {
    throw ruleViolation(fn, undefined, 'DRV-2',
      `${describe(a)} completed its pause with ${a.atMiniport.size} send(s) not completed and ${a.indicated} receive(s) not returned; complete them, then call NdisMPauseComplete`, a.handle, a.atMiniport.size, a.indicated);
  }
  a.pausePending = false;
  a.pauseEarly = false;
  a.state = 'paused';
}

/** A pause the miniport reported done too early (DRV-2) ends once nothing is outstanding. */
function settleEarlyPause(rt: RuntimeCore, a: AdapterRecord): void {
  if (a.pauseEarly && a.atMiniport.size === 0 && a.indicated === 0) pauseDone(rt, 'pause', a);
}

/** Restarts an adapter's stack: the miniport, then filters bottom-up. */
function restartStack(rt: RuntimeCore, a: AdapterRecord): void {
  const fn = 'restart';
  if (a.state === 'paused') {
    a.state = 'restarting';
    const s = statusOf(fn, 'MiniportRestart', (a.driver.chars.RestartHandler as (c: number, p: object) => unknown)(a.context!, { Header: header(0x80, 1, 16) }), false);
    if (s !== NDIS_STATUS_SUCCESS) {
      a.state = 'paused';
      throw new Error(`${describe(a)}: MiniportRestart failed with status 0x${(s >>> 0).toString(16)}`);
    }
    a.state = 'running';
  }
  for (const f of a.filters) {
    if (f.state !== 'paused') continue;
    const s = statusOf(fn, 'FilterRestart', (f.driver.chars.RestartHandler as (c: number, p: object) => unknown)(f.context!, { Header: header(NDIS_OBJECT_TYPE_FILTER_RESTART_PARAMETERS, 1, 16) }), false);
    if (s !== NDIS_STATUS_SUCCESS) throw new Error(`${describe(f)}: FilterRestart failed with status 0x${(s >>> 0).toString(16)}`);
    f.state = 'running';
  }
}

/** Attaches every registered filter driver to `a` (registration order, bottom first). */
function attachFilters(rt: RuntimeCore, a: AdapterRecord, drivers: readonly FilterDriver[]): void {
  const m = modelOf(rt);
  for (const d of drivers) {
    const h = newHandle(rt, d.context);
    if (h === 0) continue; // no memory: NDIS does not attach this module
    const mod: FilterModule = { type: 'module', handle: h, driver: d, adapter: a, context: undefined, state: 'attaching' };
    m.objects.set(h, mod);
    const params: NDIS_FILTER_ATTACH_PARAMETERS = {
      Header: header(NDIS_OBJECT_TYPE_FILTER_ATTACH_PARAMETERS, 1, 0x5c), IfIndex: a.filters.length + 1,
      BaseMiniportName: a.name, CurrentMacAddress: [...a.mac], MtuSize: 1500,
    };
    const s = statusOf('FilterAttach', 'AttachHandler', (d.chars.AttachHandler as (h: number, c: number, p: object) => unknown)(h, d.context, params), false);
    if (s !== NDIS_STATUS_SUCCESS) {
      freeHandle(rt, 'FilterAttach', 'NdisFilterHandle', h);
      continue;
    }
    if (mod.context === undefined) {
      m.objects.delete(h);
      rt.wasm.protocolDeregister(h); // freed unless the filter left pools on it
      throw ruleViolation('FilterAttach', 'AttachHandler', 'DRV-1', `${describe(mod)} returned NDIS_STATUS_SUCCESS without calling NdisFSetAttributes`, h);
    }
    mod.state = 'paused';
    a.filters.push(mod);
    d.modules.add(mod);
  }
}

/** Detaches filter module `f` (its adapter is paused). */
function detachModule(rt: RuntimeCore, f: FilterModule): void {
  (f.driver.chars.DetachHandler as (c: number) => void)(f.context!);
  freeHandle(rt, 'FilterDetach', 'NdisFilterHandle', f.handle);
  f.adapter.filters.splice(f.adapter.filters.indexOf(f), 1);
  f.driver.modules.delete(f);
}

/** Binds every protocol that may bind to `a`. */
function bindProtocols(rt: RuntimeCore, a: AdapterRecord): void {
  for (const o of [...modelOf(rt).objects.values()]) {
    if (o.type === 'protocol') bindOne(rt, o, a);
  }
}

/** Binds protocol `p` to adapter `a` (an IM's protocol edge never binds to its own virtual miniports). */
function bindOne(rt: RuntimeCore, p: ProtocolRecord, a: AdapterRecord): void {
  if (p.imMiniport !== 0 && p.imMiniport === a.driver.handle) return;
  if ([...p.bindings].some((b) => b.adapter === a)) return;
  const bindContext = { adapter: a, protocol: p };
  pendingBinds.set(bindContext, a);
  const params: NDIS_BIND_PARAMETERS = {
    Header: header(NDIS_OBJECT_TYPE_BIND_PARAMETERS, 1, 0xc8), AdapterName: a.name, CurrentMacAddress: [...a.mac],
    MtuSize: 1500, MaxXmitLinkSpeed: a.linkSpeed, MaxRcvLinkSpeed: a.linkSpeed,
  };
  try {
    statusOf('ProtocolBindAdapterEx', 'BindAdapterHandlerEx',
      (p.chars.BindAdapterHandlerEx as (c: number, b: object, p: object) => unknown)(p.context, bindContext, params), false);
  } finally {
    pendingBinds.delete(bindContext);
  }
}

/** Bind contexts of BindAdapterHandlerEx calls in progress (NdisOpenAdapterEx takes one). */
const pendingBinds = new Map<object, AdapterRecord>();

/** Unbinds `b` (its protocol closes it). */
function unbind(rt: RuntimeCore, b: Binding): void {
  if (!b.open) return;
  statusOf('ProtocolUnbindAdapterEx', 'UnbindAdapterHandlerEx',
    (b.protocol.chars.UnbindAdapterHandlerEx as (u: object, c: number) => unknown)({ binding: b }, b.context), false);
  if (b.open) {
    throw ruleViolation('ProtocolUnbindAdapterEx', 'UnbindAdapterHandlerEx', 'DRV-2', `${describe(b)} returned without NdisCloseAdapterEx`, b.handle);
  }
}

/** Halts an adapter: unbind, pause, detach filters, MiniportHaltEx, free the handle. */
function halt(rt: RuntimeCore, a: AdapterRecord, action: number): void {
  if (a.state !== 'halted') {
    // As NDIS removes a device: pause the stack (queued sends complete with PAUSED), unbind the
    // protocols (each returns what it holds and closes), detach the filters, halt.
    pauseStack(rt, a, true);
    for (const b of [...a.bindings]) unbind(rt, b);
    if (a.pauseEarly) pauseDone(rt, 'MiniportPause', a); // DRV-2 if anything is still out
    if (a.pausePending) throw ruleViolation('halt', undefined, 'DRV-2', `${describe(a)} pended its pause and has not called NdisMPauseComplete`, a.handle);
    for (let i = a.filters.length - 1; i >= 0; i--) detachModule(rt, a.filters[i]!);
    (a.driver.chars.HaltHandlerEx as (c: number, h: number) => void)(a.context!, action);
    a.state = 'halted';
  }
  // POOL-6 when MiniportHaltEx left pools on the handle: the adapter stays listed (halted) so
  // that a retried remove() frees the handle once the pools are gone.
  freeHandle(rt, 'MiniportHaltEx', 'MiniportAdapterHandle', a.handle);
  a.driver.adapters.delete(a);
  const m = modelOf(rt);
  m.adapters.splice(m.adapters.indexOf(a), 1);
}

// -- the public adapter object -----------------------------------------------------------------

/** A miniport adapter instance, created by `runtime.createAdapter`. */
export class Adapter {
  /** @internal */
  constructor(readonly rt: RuntimeCore, /** @internal */ readonly rec: AdapterRecord) {}
  /** NdisMiniportHandle (MiniportAdapterHandle): the handle its miniport allocates pools with. */
  get handle(): number { return this.rec.handle; }
  get name(): string { return this.rec.name; }
  get macAddress(): number[] { return [...this.rec.mac]; }
  /** initializing, paused, restarting, running, pausing or halted. */
  get state(): string { return this.rec.state; }
  /** MiniportAdapterContext, as the miniport registered it. */
  get context(): number { return this.rec.context ?? 0; }
  /** Filter modules, bottom first: their NdisFilterHandles. */
  get filters(): number[] { return this.rec.filters.map((f) => f.handle); }
  /** Open bindings: their NdisBindingHandles. */
  get bindings(): number[] { return [...this.rec.bindings].filter((b) => b.open).map((b) => b.handle); }
  /** Sends the miniport holds, receives it indicated that are not back. */
  get outstanding(): { sends: number; receives: number } { return { sends: this.rec.atMiniport.size, receives: this.rec.indicated }; }

  /** Pauses the stack (filters top-down, then the miniport). A pended pause ends with NdisMPauseComplete. */
  pause(): void {
    this.#live('pause');
    pauseStack(this.rt, this.rec);
  }

  /** Restarts the stack (the miniport, then filters bottom-up). */
  restart(): void {
    this.#live('restart');
    settleEarlyPause(this.rt, this.rec);
    if (this.rec.pausePending || this.rec.state === 'pausing') throw ruleViolation('Adapter.restart', undefined, 'DRV-2', `${describe(this.rec)} is still pausing`, this.handle);
    restartStack(this.rt, this.rec);
  }

  /**
   * Removes the adapter as PnP would: unbinds protocols, pauses, detaches filters, halts the
   * miniport. When MiniportHaltEx left pools on the adapter handle (POOL-6), free them and call
   * remove() again to release the handle.
   */
  remove(): void {
    if (modelOf(this.rt).objects.get(this.rec.handle) !== this.rec) this.#live('remove');
    halt(this.rt, this.rec, NdisHaltDeviceDisabled);
  }

  #live(fn: string): void {
    if (this.rec.state === 'halted' || modelOf(this.rt).objects.get(this.rec.handle) !== this.rec) {
      throw ruleViolation(`Adapter.${fn}`, undefined, 'DRV-2', `${this.rec.name} was halted${this.rec.state === 'halted' ? '' : ' (runtime reset)'}`);
    }
  }
}

/** @internal runtime.adapters(): every adapter not yet removed, in creation order. */
export function listAdapters(rt: RuntimeCore): Adapter[] {
  return modelOf(rt).adapters.map((a) => new Adapter(rt, a));
}

/**
 * @internal NdisRegisterProtocolDriver: NDIS binds a new protocol to the adapters already
 * running, later (as Windows does, asynchronously): at the next runtime.pnp(), runDpcs() or
 * createAdapter().
 */
export function bindNewProtocol(rt: RuntimeCore, handle: number): void {
  const m = modelOf(rt);
  m.pnpWork.push(() => {
    const p = m.objects.get(handle);
    if (p?.type !== 'protocol') return; // deregistered meanwhile
    for (const a of [...m.adapters]) if (a.state === 'running') bindOne(rt, p, a);
  });
}

/**
 * @internal runtime.pnp(): runs deferred PnP work (late binds and attaches). Returns how many
 * items ran. Verifier: checks the send deadlines first (TIME-SEND, reported as `fn`).
 */
export function runPnp(rt: RuntimeCore, fn = 'pnp'): number {
  checkSendTimers(rt, fn);
  const m = modelOf(rt);
  let n = 0;
  // Work queued while this runs (a bind that registers another protocol) runs too, in order.
  while (n < m.pnpWork.length) m.pnpWork[n++]!();
  m.pnpWork.length = 0;
  return n;
}

/** @internal runtime.createAdapter */
export function createAdapter(rt: RuntimeCore, NdisMiniportDriverHandle: number, options: AdapterOptions, imDeviceContext = 0): Adapter | null {
  const fn = 'createAdapter';
  const d = handleArg(rt, fn, 'NdisMiniportDriverHandle', NdisMiniportDriverHandle, 'miniport', 'a miniport driver handle from NdisMRegisterMiniportDriver');
  if (typeof options !== 'object' || options === null) throw badParam(fn, 'options', options, 'an object { name, macAddress?, linkSpeed? }');
  if (typeof options.name !== 'string' || options.name.length === 0) throw badParam(fn, 'options.name', options.name, 'a non-empty string');
  const m = modelOf(rt);
  const n = m.adapterSerial + 1; // taken only when the adapter starts (a throw changes nothing)
  let mac = [2, 0, 0, 0, (n >> 8) & 0xff, n & 0xff];
  if (options.macAddress !== undefined) {
    const x = options.macAddress;
    if (!x || typeof x !== 'object' || x.length !== 6 || !Array.from(x).every((b) => isU32(b) && b <= 0xff)) {
      throw badParam(fn, 'options.macAddress', x, '6 bytes');
    }
    mac = Array.from(x);
  }
  const linkSpeed = options.linkSpeed ?? 100_000_000;
  if (typeof linkSpeed !== 'number' || !(linkSpeed > 0) || !Number.isFinite(linkSpeed)) throw badParam(fn, 'options.linkSpeed', linkSpeed, 'bits per second (> 0)');
  runPnp(rt, fn); // deferred binds first (after the arguments passed their checks)
  const h = newHandle(rt, 0);
  if (h === 0) return null;
  const a: AdapterRecord = {
    type: 'adapter', handle: h, driver: d, name: options.name, mac, linkSpeed, options, state: 'initializing',
    context: undefined, filters: [], bindings: new Set(), atMiniport: new U32Set(), sentAt: new Map(), hangRef: 0, indicated: 0,
    pausePending: false, pauseEarly: false,
  };
  m.objects.set(h, a);
  const params: NDIS_MINIPORT_INIT_PARAMETERS = {
    Header: header(NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS, 1, 0x4c), Flags: 0, IMDeviceInstanceContext: imDeviceContext,
    MiniportAddDeviceContext: 0, IfIndex: n, AdapterOptions: options,
  };
  let s: number;
  try {
    s = statusOf('MiniportInitializeEx', 'InitializeHandlerEx', (d.chars.InitializeHandlerEx as (h: number, c: number, p: object) => unknown)(h, d.context, params), false);
  } catch (err) {
    m.objects.delete(h);
    rt.wasm.protocolDeregister(h);
    throw err;
  }
  if (s !== NDIS_STATUS_SUCCESS) {
    // A failed initialize must undo what it allocated: the handle must own no pool (POOL-6).
    freeHandle(rt, 'MiniportInitializeEx', 'MiniportAdapterHandle', h);
    return null;
  }
  if (a.context === undefined) {
    m.objects.delete(h);
    rt.wasm.protocolDeregister(h); // freed unless the miniport left pools on it
    throw ruleViolation('MiniportInitializeEx', 'InitializeHandlerEx', 'DRV-1', `returned NDIS_STATUS_SUCCESS for ${options.name} without registering its MiniportAdapterContext (NdisMSetMiniportAttributes with registration attributes)`, h);
  }
  a.state = 'paused';
  m.adapterSerial = n;
  d.adapters.add(a);
  m.adapters.push(a);
  attachFilters(rt, a, m.filterDrivers);
  restartStack(rt, a);
  bindProtocols(rt, a);
  return new Adapter(rt, a);
}

// -- the NDIS functions -------------------------------------------------------------------------

export const driverApi = {
  /**
   * Registers a miniport driver: checks the characteristics (header, version, required
   * handlers) and returns its NdisMiniportDriverHandle. Adapters are created with
   * `runtime.createAdapter(handle, { name })`, which calls InitializeHandlerEx.
   * @returns NDIS_STATUS_SUCCESS, NDIS_STATUS_BAD_CHARACTERISTICS, NDIS_STATUS_BAD_VERSION or
   *   NDIS_STATUS_RESOURCES.
   */
  NdisMRegisterMiniportDriver(
    this: RuntimeCore,
    DriverObject: number,
    RegistryPath: string | number,
    MiniportDriverContext: number,
    MiniportDriverCharacteristics: NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    NdisMiniportDriverHandle: Out<NDIS_HANDLE | NULL>,
  ): NDIS_STATUS {
    const fn = 'NdisMRegisterMiniportDriver';
    if (!isU32(DriverObject)) throw badParam(fn, 'DriverObject', DriverObject, 'a PDRIVER_OBJECT (u32)');
    if (typeof RegistryPath !== 'string' && !isU32(RegistryPath)) throw badParam(fn, 'RegistryPath', RegistryPath, 'a string or u32');
    if (!isU32(MiniportDriverContext)) throw badParam(fn, 'MiniportDriverContext', MiniportDriverContext, 'a context value (u32)');
    const c = MiniportDriverCharacteristics;
    if (typeof c !== 'object' || c === null) throw badParam(fn, 'MiniportDriverCharacteristics', c, 'an NDIS_MINIPORT_DRIVER_CHARACTERISTICS object');
    if (!isOut(NdisMiniportDriverHandle)) throw badParam(fn, 'NdisMiniportDriverHandle', NdisMiniportDriverHandle, 'an out box { value }');
    NdisMiniportDriverHandle.value = 0;
    const h = c.Header;
    if (typeof h !== 'object' || h === null || h.Type !== NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS) return NDIS_STATUS_BAD_CHARACTERISTICS;
    if (h.Revision !== NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1 && h.Revision !== NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2) return NDIS_STATUS_BAD_CHARACTERISTICS;
    if (!isU32(h.Size) || h.Size > 0xffff) return NDIS_STATUS_BAD_CHARACTERISTICS;
    if (!checkVersion(c)) return NDIS_STATUS_BAD_VERSION;
    for (const k of REQUIRED_MINIPORT_HANDLERS) if (typeof c[k] !== 'function') return NDIS_STATUS_BAD_CHARACTERISTICS;
    const handle = newHandle(this, MiniportDriverContext);
    if (handle === 0) return NDIS_STATUS_RESOURCES;
    const m = modelOf(this);
    const d: MiniportDriver = { type: 'miniport', handle, context: MiniportDriverContext, chars: c, adapters: new Set(), imProtocol: 0, driverObject: DriverObject };
    d.chars = tracked(this, c, d);
    m.objects.set(handle, d);
    m.miniports.push(d);
    NdisMiniportDriverHandle.value = handle as NDIS_HANDLE;
    return NDIS_STATUS_SUCCESS;
  },

  /**
   * Deregisters a miniport driver (its DriverUnload).
   * @throws NdisBugCheck DRV-2 while adapters of it are not halted; POOL-6 while the driver
   *   handle owns pools.
   */
  NdisMDeregisterMiniportDriver(this: RuntimeCore, NdisMiniportDriverHandle: NDIS_HANDLE): void {
    const fn = 'NdisMDeregisterMiniportDriver';
    const d = handleArg(this, fn, 'NdisMiniportDriverHandle', NdisMiniportDriverHandle, 'miniport', 'a miniport driver handle');
    if (d.adapters.size) throw ruleViolation(fn, 'NdisMiniportDriverHandle', 'DRV-2', `${describe(d)} still has ${d.adapters.size} adapter(s); remove them first`, d.handle, d.adapters.size);
    freeHandle(this, fn, 'NdisMiniportDriverHandle', d.handle);
    const m = modelOf(this);
    m.miniports.splice(m.miniports.indexOf(d), 1);
  },

  /**
   * Registers adapter attributes from MiniportInitializeEx. Registration attributes (Type
   * 0x9E) give the MiniportAdapterContext; general attributes (0x9F) may set the MAC address.
   * @returns NDIS_STATUS_SUCCESS, or NDIS_STATUS_INVALID_PARAMETER for an unknown header.
   */
  NdisMSetMiniportAttributes(
    this: RuntimeCore,
    NdisMiniportHandle: NDIS_HANDLE,
    MiniportAttributes: NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES | NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
  ): NDIS_STATUS {
    const fn = 'NdisMSetMiniportAttributes';
    const a = handleArg(this, fn, 'NdisMiniportHandle', NdisMiniportHandle, 'adapter', 'the NdisMiniportHandle given to MiniportInitializeEx');
    if (a.state !== 'initializing') throw ruleViolation(fn, 'NdisMiniportHandle', 'DRV-2', `may be called only from MiniportInitializeEx (${a.name} is ${a.state})`, a.handle);
    const x = MiniportAttributes as { Header?: NDIS_OBJECT_HEADER } | null;
    if (typeof x !== 'object' || x === null || typeof x.Header !== 'object' || x.Header === null) throw badParam(fn, 'MiniportAttributes', x, 'an NDIS_MINIPORT_ADAPTER_*_ATTRIBUTES object');
    if (x.Header.Type === NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES) {
      const r = x as NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES;
      if (!isU32(r.MiniportAdapterContext)) throw badParam(fn, 'MiniportAttributes.MiniportAdapterContext', r.MiniportAdapterContext, 'a context value (u32)');
      a.context = r.MiniportAdapterContext;
      return NDIS_STATUS_SUCCESS;
    }
    if (x.Header.Type === NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES) {
      const g = x as NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES;
      if (g.CurrentMacAddress !== undefined) {
        const mac = Array.from(g.CurrentMacAddress);
        if (mac.length !== 6 || !mac.every((b) => isU32(b) && b <= 0xff)) throw badParam(fn, 'MiniportAttributes.CurrentMacAddress', g.CurrentMacAddress, '6 bytes');
        a.mac = mac;
      }
      if (g.MaxXmitLinkSpeed !== undefined && typeof g.MaxXmitLinkSpeed === 'number' && g.MaxXmitLinkSpeed > 0) a.linkSpeed = g.MaxXmitLinkSpeed;
      return NDIS_STATUS_SUCCESS;
    }
    return NDIS_STATUS_INVALID_PARAMETER;
  },

  /**
   * Completes sends up the stack (each NBL must be one the miniport was given and has not
   * completed: OWN-1). The NBLs reach filters with a send-complete handler, then the protocols
   * that sent them.
   */
  NdisMSendNetBufferListsComplete(this: RuntimeCore, MiniportAdapterHandle: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, SendCompleteFlags: number): void {
    const fn = 'NdisMSendNetBufferListsComplete';
    const a = handleArg(this, fn, 'MiniportAdapterHandle', MiniportAdapterHandle, 'adapter', 'a miniport adapter handle');
    if (!isU32(SendCompleteFlags)) throw badParam(fn, 'SendCompleteFlags', SendCompleteFlags, 'flags (u32)');
    const nbls = chainArg(this, fn, NetBufferLists);
    nbls.forEach((n, i) => {
      if (!a.atMiniport.has(n)) throw ruleViolation(fn, `NetBufferLists[${i}]`, 'OWN-1', `${hexAddr(n)} was not sent to ${a.name} (or was completed already)`, n);
    });
    if (this.verifier) {
      nbls.forEach((n, i) => checkChain(this, fn, `NetBufferLists[${i}]`, n, a));
      const now = checkSendTimers(this, fn); // a completion that comes too late is TIME-SEND too
      for (const n of nbls) a.sentAt.delete(n);
      a.hangRef = now;
    }
    for (const n of nbls) a.atMiniport.delete(n);
    completeUp(this, a, -1, nbls, SendCompleteFlags);
  },

  /**
   * Indicates received NBLs up the stack. Each NBL's SourceHandle must be the adapter handle
   * (OWN-2); NumberOfNetBufferLists must match the chain. Without NDIS_RECEIVE_FLAGS_RESOURCES
   * the NBLs are away until every protocol returned them (then MiniportReturnNetBufferLists);
   * with it, they are the miniport's again when this call returns.
   */
  NdisMIndicateReceiveNetBufferLists(
    this: RuntimeCore,
    MiniportAdapterHandle: NDIS_HANDLE,
    NetBufferLists: PNET_BUFFER_LIST,
    PortNumber: number,
    NumberOfNetBufferLists: number,
    ReceiveFlags: number,
  ): void {
    const fn = 'NdisMIndicateReceiveNetBufferLists';
    const a = handleArg(this, fn, 'MiniportAdapterHandle', MiniportAdapterHandle, 'adapter', 'a miniport adapter handle');
    if (!isU32(PortNumber)) throw badParam(fn, 'PortNumber', PortNumber, 'an NDIS_PORT_NUMBER (u32)');
    if (!isU32(ReceiveFlags)) throw badParam(fn, 'ReceiveFlags', ReceiveFlags, 'flags (u32)');
    const nbls = chainArg(this, fn, NetBufferLists);
    if (NumberOfNetBufferLists !== nbls.length) throw badParam(fn, 'NumberOfNetBufferLists', NumberOfNetBufferLists, `the chain's length (${nbls.length})`);
    if (a.state !== 'running') throw ruleViolation(fn, 'MiniportAdapterHandle', 'DRV-2', `${a.name} is ${a.state}: a miniport indicates receives only while running`, a.handle);
    nbls.forEach((n, i) => {
      this.checkNotAway(fn, `NetBufferLists[${i}]`, n);
      const src = this.rd32(n + NBL.SourceHandle);
      if (src !== a.handle) throw ruleViolation(fn, `NetBufferLists[${i}]`, 'OWN-2', `${hexAddr(n)} has SourceHandle ${hexAddr(src)}; set it to the MiniportAdapterHandle ${hexAddr(a.handle)} before indicating`, n, src);
    });
    const away = awayOf(this);
    recordChains(this, nbls);
    if ((ReceiveFlags & NDIS_RECEIVE_FLAGS_RESOURCES) === 0) {
      const f = flightOf('recv', a, a);
      for (const n of nbls) {
        away.set(n, f);
        setRefs(this, n, 0);
      }
      a.indicated += nbls.length;
      indicateUp(this, a, -1, nbls, PortNumber, ReceiveFlags);
    } else {
      // The NBLs stay the miniport's: mark them away only while the indication runs.
      const f = flightOf('recv', a, a, true);
      for (const n of nbls) {
        away.set(n, f);
        setRefs(this, n, 0);
      }
      try {
        indicateUp(this, a, -1, nbls, PortNumber, ReceiveFlags);
      } finally {
        for (const n of nbls) {
          this.nblsAway.delete(n);
          forgetChain(this, n);
        }
      }
    }
  },

  /** Completes a pause the miniport pended (PauseHandler returned NDIS_STATUS_PENDING). */
  NdisMPauseComplete(this: RuntimeCore, MiniportAdapterHandle: NDIS_HANDLE): void {
    const fn = 'NdisMPauseComplete';
    const a = handleArg(this, fn, 'MiniportAdapterHandle', MiniportAdapterHandle, 'adapter', 'a miniport adapter handle');
    if (!a.pausePending) throw ruleViolation(fn, 'MiniportAdapterHandle', 'DRV-2', `${a.name} has no pended pause`, a.handle);
    a.pauseEarly = false;
    pauseDone(this, fn, a);
  },

  /** Sets a send's cancel ID (NDIS_SET_NET_BUFFER_LIST_CANCEL_ID): NetBufferListInfo[NetBufferListCancelId]. */
  NDIS_SET_NET_BUFFER_LIST_CANCEL_ID(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST, CancelId: number): void {
    const fn = 'NDIS_SET_NET_BUFFER_LIST_CANCEL_ID';
    if (!isU32(CancelId)) throw badParam(fn, 'CancelId', CancelId, 'a PVOID cancel ID (u32)');
    chainArg(this, fn, NetBufferList);
    this.u32[(NetBufferList + NBL.NetBufferListInfo + NetBufferListCancelId * 4) >>> 2] = CancelId;
  },

  /** NDIS_GET_NET_BUFFER_LIST_CANCEL_ID. */
  NDIS_GET_NET_BUFFER_LIST_CANCEL_ID(this: RuntimeCore, NetBufferList: PNET_BUFFER_LIST): number {
    chainArg(this, 'NDIS_GET_NET_BUFFER_LIST_CANCEL_ID', NetBufferList);
    return this.rd32(NetBufferList + NBL.NetBufferListInfo + NetBufferListCancelId * 4);
  },

  // -- protocol edge --

  /**
   * Opens a binding from ProtocolBindAdapterEx (BindContext is the one NDIS passed it).
   * @returns NDIS_STATUS_SUCCESS (NdisBindingHandle set) or NDIS_STATUS_RESOURCES.
   */
  NdisOpenAdapterEx(
    this: RuntimeCore,
    NdisProtocolHandle: NDIS_HANDLE,
    ProtocolBindingContext: number,
    OpenParameters: NDIS_OPEN_PARAMETERS,
    BindContext: object,
    NdisBindingHandle: Out<NDIS_HANDLE | NULL>,
  ): NDIS_STATUS {
    const fn = 'NdisOpenAdapterEx';
    const p = handleArg(this, fn, 'NdisProtocolHandle', NdisProtocolHandle, 'protocol', 'a protocol driver handle');
    if (!isU32(ProtocolBindingContext)) throw badParam(fn, 'ProtocolBindingContext', ProtocolBindingContext, 'a context value (u32)');
    if (typeof OpenParameters !== 'object' || OpenParameters === null || OpenParameters.Header?.Type !== NDIS_OBJECT_TYPE_OPEN_PARAMETERS) {
      throw badParam(fn, 'OpenParameters', OpenParameters, 'an NDIS_OPEN_PARAMETERS object (Header.Type 0x87)');
    }
    const a = pendingBinds.get(BindContext);
    if (!a || (BindContext as { protocol?: unknown }).protocol !== p) {
      throw ruleViolation(fn, 'BindContext', 'DRV-2', 'is not the BindContext of a ProtocolBindAdapterEx call of this protocol in progress');
    }
    if (!isOut(NdisBindingHandle)) throw badParam(fn, 'NdisBindingHandle', NdisBindingHandle, 'an out box { value }');
    NdisBindingHandle.value = 0;
    if (OpenParameters.AdapterName !== undefined && OpenParameters.AdapterName !== a.name) {
      throw badParam(fn, 'OpenParameters.AdapterName', OpenParameters.AdapterName, `the AdapterName of the bind parameters (${a.name})`);
    }
    const h = newHandle(this, ProtocolBindingContext);
    if (h === 0) return NDIS_STATUS_RESOURCES;
    const b: Binding = { type: 'binding', handle: h, protocol: p, adapter: a, context: ProtocolBindingContext, sends: 0, held: new U32Set(), open: true };
    modelOf(this).objects.set(h, b);
    p.bindings.add(b);
    a.bindings.add(b);
    if (OpenParameters.SelectedMediumIndex && isOut(OpenParameters.SelectedMediumIndex)) OpenParameters.SelectedMediumIndex.value = 0;
    NdisBindingHandle.value = h as NDIS_HANDLE;
    return NDIS_STATUS_SUCCESS;
  },

  /**
   * Closes a binding (from ProtocolUnbindAdapterEx, or any time the protocol wants).
   * @throws NdisBugCheck LEAK-NBL (0x7C/0x27) while sends on it are not completed or it holds
   *   received NBLs it has not returned; POOL-6 when pools were created with the binding handle.
   */
  NdisCloseAdapterEx(this: RuntimeCore, NdisBindingHandle: NDIS_HANDLE): NDIS_STATUS {
    const fn = 'NdisCloseAdapterEx';
    const b = handleArg(this, fn, 'NdisBindingHandle', NdisBindingHandle, 'binding', 'an open binding handle');
    if (b.sends !== 0) throw leak(fn, 'NdisBindingHandle', b, b.sends, 'sent and not completed');
    if (b.held.size !== 0) throw leak(fn, 'NdisBindingHandle', b, b.held.size, 'received and not returned');
    freeHandle(this, fn, 'NdisBindingHandle', b.handle);
    b.open = false;
    b.protocol.bindings.delete(b);
    b.adapter.bindings.delete(b);
    return NDIS_STATUS_SUCCESS;
  },

  /**
   * Sends NBLs on a binding. NDIS sets each NBL's SourceHandle to the binding; the NBLs are away
   * until SendNetBufferListsCompleteHandler gets them (OWN-1). On a paused adapter NDIS
   * completes them at once with NDIS_STATUS_PAUSED.
   */
  NdisSendNetBufferLists(this: RuntimeCore, NdisBindingHandle: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, PortNumber: number, SendFlags: number): void {
    const fn = 'NdisSendNetBufferLists';
    const b = handleArg(this, fn, 'NdisBindingHandle', NdisBindingHandle, 'binding', 'an open binding handle');
    if (!isU32(PortNumber)) throw badParam(fn, 'PortNumber', PortNumber, 'an NDIS_PORT_NUMBER (u32)');
    if (!isU32(SendFlags)) throw badParam(fn, 'SendFlags', SendFlags, 'flags (u32)');
    const nbls = chainArg(this, fn, NetBufferLists);
    nbls.forEach((n, i) => this.checkNotAway(fn, `NetBufferLists[${i}]`, n));
    checkSendTimers(this, fn);
    recordChains(this, nbls);
    const away = awayOf(this);
    const f = flightOf('send', b, b.adapter);
    for (const n of nbls) {
      this.u32[(n + NBL.SourceHandle) >>> 2] = b.handle;
      away.set(n, f);
    }
    b.sends += nbls.length;
    const a = b.adapter;
    if (a.state !== 'running') {
      for (const n of nbls) this.u32[(n + NBL.Status) >>> 2] = NDIS_STATUS_PAUSED;
      completeUp(this, a, a.filters.length, nbls, SendFlags & NDIS_SEND_FLAGS_DISPATCH_LEVEL ? NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL : 0);
      return;
    }
    sendDown(this, a, a.filters.length, nbls, PortNumber, SendFlags);
  },

  /**
   * Returns received NBLs the binding got (each one it holds: OWN-1 otherwise). When every
   * protocol returned an NBL, it goes down to the driver that indicated it.
   */
  NdisReturnNetBufferLists(this: RuntimeCore, NdisBindingHandle: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, ReturnFlags: number): void {
    const fn = 'NdisReturnNetBufferLists';
    const b = handleArg(this, fn, 'NdisBindingHandle', NdisBindingHandle, 'binding', 'an open binding handle');
    if (!isU32(ReturnFlags)) throw badParam(fn, 'ReturnFlags', ReturnFlags, 'flags (u32)');
    const nbls = chainArg(this, fn, NetBufferLists);
    nbls.forEach((n, i) => {
      if (!b.held.has(n)) throw ruleViolation(fn, `NetBufferLists[${i}]`, 'OWN-1', `${hexAddr(n)} was not indicated to ${describe(b)} (or was returned already)`, n);
    });
    if (this.verifier) nbls.forEach((n, i) => checkChain(this, fn, `NetBufferLists[${i}]`, n, b));
    const back: number[] = [];
    for (const n of nbls) {
      b.held.delete(n);
      const r = refsOf(this, n) - 1;
      setRefs(this, n, r);
      if (r === 0) back.push(n);
    }
    if (back.length) returnDown(this, b.adapter, b.adapter.filters.length, back, ReturnFlags);
  },

  /** Cancels sends with `CancelId` (NDIS_SET_NET_BUFFER_LIST_CANCEL_ID): filters and then the miniport are asked. */
  NdisCancelSendNetBufferLists(this: RuntimeCore, NdisBindingHandle: NDIS_HANDLE, CancelId: number): void {
    const fn = 'NdisCancelSendNetBufferLists';
    const b = handleArg(this, fn, 'NdisBindingHandle', NdisBindingHandle, 'binding', 'an open binding handle');
    if (!isU32(CancelId)) throw badParam(fn, 'CancelId', CancelId, 'a PVOID cancel ID (u32)');
    cancelDown(b.adapter, b.adapter.filters.length, CancelId);
  },

  // -- filters --

  /**
   * Registers a filter driver; its modules attach to adapters created afterwards (registration
   * order: the first registered sits next to the miniport).
   * @returns NDIS_STATUS_SUCCESS, NDIS_STATUS_BAD_CHARACTERISTICS, NDIS_STATUS_BAD_VERSION or NDIS_STATUS_RESOURCES.
   */
  NdisFRegisterFilterDriver(
    this: RuntimeCore,
    DriverObject: number,
    FilterDriverContext: number,
    FilterDriverCharacteristics: NDIS_FILTER_DRIVER_CHARACTERISTICS,
    NdisFilterDriverHandle: Out<NDIS_HANDLE | NULL>,
  ): NDIS_STATUS {
    const fn = 'NdisFRegisterFilterDriver';
    if (!isU32(DriverObject)) throw badParam(fn, 'DriverObject', DriverObject, 'a PDRIVER_OBJECT (u32)');
    if (!isU32(FilterDriverContext)) throw badParam(fn, 'FilterDriverContext', FilterDriverContext, 'a context value (u32)');
    const c = FilterDriverCharacteristics;
    if (typeof c !== 'object' || c === null) throw badParam(fn, 'FilterDriverCharacteristics', c, 'an NDIS_FILTER_DRIVER_CHARACTERISTICS object');
    if (!isOut(NdisFilterDriverHandle)) throw badParam(fn, 'NdisFilterDriverHandle', NdisFilterDriverHandle, 'an out box { value }');
    NdisFilterDriverHandle.value = 0;
    const h = c.Header;
    if (typeof h !== 'object' || h === null || h.Type !== NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS) return NDIS_STATUS_BAD_CHARACTERISTICS;
    if (h.Revision !== NDIS_FILTER_CHARACTERISTICS_REVISION_1 && h.Revision !== NDIS_FILTER_CHARACTERISTICS_REVISION_2) return NDIS_STATUS_BAD_CHARACTERISTICS;
    if (!checkVersion(c)) return NDIS_STATUS_BAD_VERSION;
    for (const k of ['FriendlyName', 'UniqueName', 'ServiceName'] as const) if (typeof c[k] !== 'string' || c[k].length === 0) return NDIS_STATUS_BAD_CHARACTERISTICS;
    for (const k of REQUIRED_FILTER_HANDLERS) if (typeof c[k] !== 'function') return NDIS_STATUS_BAD_CHARACTERISTICS;
    for (const k of OPTIONAL_FILTER_HANDLERS) if (c[k] !== undefined && c[k] !== null && typeof c[k] !== 'function') return NDIS_STATUS_BAD_CHARACTERISTICS;
    // A filter that originates sends or receives needs the matching completion handler.
    if (typeof c.SendNetBufferListsHandler === 'function' && typeof c.SendNetBufferListsCompleteHandler !== 'function') return NDIS_STATUS_BAD_CHARACTERISTICS;
    if (typeof c.ReceiveNetBufferListsHandler === 'function' && typeof c.ReturnNetBufferListsHandler !== 'function') return NDIS_STATUS_BAD_CHARACTERISTICS;
    const handle = newHandle(this, FilterDriverContext);
    if (handle === 0) return NDIS_STATUS_RESOURCES;
    const m = modelOf(this);
    const d: FilterDriver = { type: 'filter', handle, context: FilterDriverContext, chars: c, modules: new Set(), driverObject: DriverObject };
    d.chars = tracked(this, c, d);
    m.objects.set(handle, d);
    m.filterDrivers.push(d);
    NdisFilterDriverHandle.value = handle as NDIS_HANDLE;
    // NDIS attaches the new filter (on top of the stack) to the adapters already started, later
    // (runtime.pnp()), pausing each stack around the attach.
    m.pnpWork.push(() => {
      if (m.objects.get(d.handle) !== d) return; // deregistered meanwhile
      for (const a of [...m.adapters]) {
        if ((a.state !== 'running' && a.state !== 'paused') || [...d.modules].some((x) => x.adapter === a)) continue;
        const wasRunning = a.state === 'running';
        if (wasRunning) pauseStack(this, a);
        if (a.pausePending) continue; // the miniport pended its pause: not now
        attachFilters(this, a, [d]);
        if (wasRunning) restartStack(this, a);
      }
    });
    return NDIS_STATUS_SUCCESS;
  },

  /**
   * Deregisters a filter driver: each of its modules is detached (its adapter paused around
   * the detach, as NDIS does), then the handle is freed (POOL-6 if it owns pools).
   */
  NdisFDeregisterFilterDriver(this: RuntimeCore, NdisFilterDriverHandle: NDIS_HANDLE): void {
    const fn = 'NdisFDeregisterFilterDriver';
    const d = handleArg(this, fn, 'NdisFilterDriverHandle', NdisFilterDriverHandle, 'filter', 'a filter driver handle');
    for (const f of [...d.modules]) {
      const a = f.adapter;
      const wasRunning = a.state === 'running';
      pauseStack(this, a);
      if (a.pausePending) throw ruleViolation(fn, undefined, 'DRV-2', `${describe(a)} pended its pause; complete it before deregistering filters`, a.handle);
      detachModule(this, f);
      if (wasRunning) restartStack(this, a);
    }
    freeHandle(this, fn, 'NdisFilterDriverHandle', d.handle);
    const m = modelOf(this);
    m.filterDrivers.splice(m.filterDrivers.indexOf(d), 1);
  },

  /** Registers the FilterModuleContext from FilterAttach. */
  NdisFSetAttributes(this: RuntimeCore, NdisFilterHandle: NDIS_HANDLE, FilterModuleContext: number, FilterAttributes: NDIS_FILTER_ATTRIBUTES): NDIS_STATUS {
    const fn = 'NdisFSetAttributes';
    const f = handleArg(this, fn, 'NdisFilterHandle', NdisFilterHandle, 'module', 'the NdisFilterHandle given to FilterAttach');
    if (f.state !== 'attaching') throw ruleViolation(fn, 'NdisFilterHandle', 'DRV-2', 'may be called only from FilterAttach', f.handle);
    if (!isU32(FilterModuleContext)) throw badParam(fn, 'FilterModuleContext', FilterModuleContext, 'a context value (u32)');
    if (typeof FilterAttributes !== 'object' || FilterAttributes === null || FilterAttributes.Header?.Type !== NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES) {
      throw badParam(fn, 'FilterAttributes', FilterAttributes, 'an NDIS_FILTER_ATTRIBUTES object (Header.Type 0x8D)');
    }
    f.context = FilterModuleContext;
    return NDIS_STATUS_SUCCESS;
  },

  /**
   * Passes sends down from a filter module. NBLs the filter originates must carry its
   * NdisFilterHandle as SourceHandle (OWN-2); their completion comes back to its
   * FilterSendNetBufferListsComplete and goes no further.
   */
  NdisFSendNetBufferLists(this: RuntimeCore, NdisFilterHandle: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, PortNumber: number, SendFlags: number): void {
    const fn = 'NdisFSendNetBufferLists';
    const f = handleArg(this, fn, 'NdisFilterHandle', NdisFilterHandle, 'module', 'a filter module handle');
    if (!isU32(PortNumber)) throw badParam(fn, 'PortNumber', PortNumber, 'an NDIS_PORT_NUMBER (u32)');
    if (!isU32(SendFlags)) throw badParam(fn, 'SendFlags', SendFlags, 'flags (u32)');
    const nbls = chainArg(this, fn, NetBufferLists);
    const away = awayOf(this);
    const own = flightOf('send', f, f.adapter);
    nbls.forEach((n, i) => {
      const fl = away.get(n);
      if (fl) {
        if (fl.dir !== 'send' || fl.adapter !== f.adapter || f.adapter.atMiniport.has(n)) throw ruleViolation(fn, `NetBufferLists[${i}]`, 'OWN-1', `${hexAddr(n)} is not the filter's to send: it was ${fl.where}`, n);
        if (this.verifier) checkChain(this, fn, `NetBufferLists[${i}]`, n, f);
        return;
      }
      const src = this.rd32(n + NBL.SourceHandle);
      if (src !== f.handle) throw ruleViolation(fn, `NetBufferLists[${i}]`, 'OWN-2', `${hexAddr(n)} originates at this filter: set its SourceHandle to the NdisFilterHandle ${hexAddr(f.handle)} (it is ${hexAddr(src)})`, n, src);
      if (typeof f.driver.chars.SendNetBufferListsCompleteHandler !== 'function') {
        throw ruleViolation(fn, 'NdisFilterHandle', 'DRV-3', `${describe(f)} originates a send but has no SendNetBufferListsCompleteHandler to get it back`, f.handle);
      }
    });
    checkSendTimers(this, fn);
    const mine = nbls.filter((n) => !away.has(n));
    recordChains(this, mine);
    for (const n of mine) away.set(n, own);
    const a = f.adapter;
    const level = a.filters.indexOf(f);
    if (a.state !== 'running') {
      for (const n of nbls) this.u32[(n + NBL.Status) >>> 2] = NDIS_STATUS_PAUSED;
      completeUp(this, a, level - 1, nbls, 0); // from this filter's own completion handler up
      return;
    }
    sendDown(this, a, level, nbls, PortNumber, SendFlags);
  },

  /**
   * Passes send completions up from a filter module. NBLs the filter originated end here
   * (passing one up is OWN-1).
   */
  NdisFSendNetBufferListsComplete(this: RuntimeCore, NdisFilterHandle: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, SendCompleteFlags: number): void {
    const fn = 'NdisFSendNetBufferListsComplete';
    const f = handleArg(this, fn, 'NdisFilterHandle', NdisFilterHandle, 'module', 'a filter module handle');
    if (!isU32(SendCompleteFlags)) throw badParam(fn, 'SendCompleteFlags', SendCompleteFlags, 'flags (u32)');
    const nbls = chainArg(this, fn, NetBufferLists);
    const away = awayOf(this);
    nbls.forEach((n, i) => {
      const fl = away.get(n);
      if (!fl || fl.dir !== 'send' || fl.adapter !== f.adapter) throw ruleViolation(fn, `NetBufferLists[${i}]`, 'OWN-1', `${hexAddr(n)} is not a send being completed on this adapter`, n);
      if (fl.origin === f) throw ruleViolation(fn, `NetBufferLists[${i}]`, 'OWN-1', `${hexAddr(n)} was sent by this filter: its completion ends here, do not pass it up`, n);
      if (this.verifier) checkChain(this, fn, `NetBufferLists[${i}]`, n, f);
    });
    completeUp(this, f.adapter, f.adapter.filters.indexOf(f), nbls, SendCompleteFlags);
  },

  /**
   * Indicates receives up from a filter module: NBLs passing through, or NBLs the filter
   * originates (SourceHandle = its NdisFilterHandle: OWN-2), whose return comes back to its
   * FilterReturnNetBufferLists.
   */
  NdisFIndicateReceiveNetBufferLists(
    this: RuntimeCore,
    NdisFilterHandle: NDIS_HANDLE,
    NetBufferLists: PNET_BUFFER_LIST,
    PortNumber: number,
    NumberOfNetBufferLists: number,
    ReceiveFlags: number,
  ): void {
    const fn = 'NdisFIndicateReceiveNetBufferLists';
    const f = handleArg(this, fn, 'NdisFilterHandle', NdisFilterHandle, 'module', 'a filter module handle');
    if (!isU32(PortNumber)) throw badParam(fn, 'PortNumber', PortNumber, 'an NDIS_PORT_NUMBER (u32)');
    if (!isU32(ReceiveFlags)) throw badParam(fn, 'ReceiveFlags', ReceiveFlags, 'flags (u32)');
    const nbls = chainArg(this, fn, NetBufferLists);
    if (NumberOfNetBufferLists !== nbls.length) throw badParam(fn, 'NumberOfNetBufferLists', NumberOfNetBufferLists, `the chain's length (${nbls.length})`);
    const away = awayOf(this);
    const a = f.adapter;
    if (f.state !== 'running') throw ruleViolation(fn, 'NdisFilterHandle', 'DRV-2', `${describe(f)} is ${f.state}: filters indicate only while running`, f.handle);
    const own = flightOf('recv', f, a);
    nbls.forEach((n, i) => {
      const fl = away.get(n);
      if (fl) {
        if (fl.dir !== 'recv' || fl.adapter !== a || (fl.resources && (ReceiveFlags & NDIS_RECEIVE_FLAGS_RESOURCES) === 0) || refsOf(this, n) !== 0) throw ruleViolation(fn, `NetBufferLists[${i}]`, 'OWN-1', `${hexAddr(n)} is not the filter's to indicate: it was ${fl.where}`, n);
        if (this.verifier) checkChain(this, fn, `NetBufferLists[${i}]`, n, f);
        return;
      }
      const src = this.rd32(n + NBL.SourceHandle);
      if (src !== f.handle) throw ruleViolation(fn, `NetBufferLists[${i}]`, 'OWN-2', `${hexAddr(n)} originates at this filter: set its SourceHandle to the NdisFilterHandle ${hexAddr(f.handle)} (it is ${hexAddr(src)})`, n, src);
      if ((ReceiveFlags & NDIS_RECEIVE_FLAGS_RESOURCES) === 0 && typeof f.driver.chars.ReturnNetBufferListsHandler !== 'function') {
        throw ruleViolation(fn, 'NdisFilterHandle', 'DRV-3', `${describe(f)} originates a receive but has no ReturnNetBufferListsHandler to get it back (indicate with NDIS_RECEIVE_FLAGS_RESOURCES)`, f.handle);
      }
    });
    const resources = (ReceiveFlags & NDIS_RECEIVE_FLAGS_RESOURCES) !== 0;
    const mine = nbls.filter((n) => !away.has(n));
    const mark = resources ? flightOf('recv', f, a, true) : own;
    recordChains(this, mine);
    for (const n of mine) {
      away.set(n, mark);
      setRefs(this, n, 0);
    }
    try {
      indicateUp(this, a, a.filters.indexOf(f), nbls, PortNumber, ReceiveFlags);
    } finally {
      if (resources) {
        for (const n of mine) {
          away.delete(n);
          forgetChain(this, n);
        }
      }
    }
  },

  /**
   * Passes returned NBLs down from a filter module; NBLs the filter indicated itself end here.
   */
  NdisFReturnNetBufferLists(this: RuntimeCore, NdisFilterHandle: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, ReturnFlags: number): void {
    const fn = 'NdisFReturnNetBufferLists';
    const f = handleArg(this, fn, 'NdisFilterHandle', NdisFilterHandle, 'module', 'a filter module handle');
    if (!isU32(ReturnFlags)) throw badParam(fn, 'ReturnFlags', ReturnFlags, 'flags (u32)');
    const nbls = chainArg(this, fn, NetBufferLists);
    const away = awayOf(this);
    nbls.forEach((n, i) => {
      const fl = away.get(n);
      if (!fl || fl.dir !== 'recv' || fl.adapter !== f.adapter || fl.resources) throw ruleViolation(fn, `NetBufferLists[${i}]`, 'OWN-1', `${hexAddr(n)} is not a receive of this adapter being returned`, n);
      if (fl.origin === f) throw ruleViolation(fn, `NetBufferLists[${i}]`, 'OWN-1', `${hexAddr(n)} was indicated by this filter: its return ends here, do not pass it down`, n);
      if (refsOf(this, n) !== 0) throw ruleViolation(fn, `NetBufferLists[${i}]`, 'OWN-1', `${hexAddr(n)} is still held by ${refsOf(this, n)} protocol binding(s)`, n);
      if (this.verifier) checkChain(this, fn, `NetBufferLists[${i}]`, n, f);
    });
    returnDown(this, f.adapter, f.adapter.filters.indexOf(f), nbls, ReturnFlags);
  },

  // -- intermediate drivers --

  /** Associates an IM driver's miniport and protocol halves (its protocol never binds to its own virtual miniports). */
  NdisIMAssociateMiniport(this: RuntimeCore, DriverHandle: NDIS_HANDLE, ProtocolHandle: NDIS_HANDLE): void {
    const fn = 'NdisIMAssociateMiniport';
    const d = handleArg(this, fn, 'DriverHandle', DriverHandle, 'miniport', 'a miniport driver handle');
    const p = handleArg(this, fn, 'ProtocolHandle', ProtocolHandle, 'protocol', 'a protocol driver handle');
    d.imProtocol = p.handle;
    p.imMiniport = d.handle;
  },

  /**
   * Starts a virtual miniport of an IM driver (usually from its protocol's bind handler): an
   * adapter named `DriverInstance` whose MiniportInitializeEx gets `DeviceContext` as
   * IMDeviceInstanceContext.
   * @returns NDIS_STATUS_SUCCESS, or the failure status of MiniportInitializeEx (FAILURE) / RESOURCES.
   */
  NdisIMInitializeDeviceInstanceEx(this: RuntimeCore, DriverHandle: NDIS_HANDLE, DriverInstance: string, DeviceContext: number): NDIS_STATUS {
    const fn = 'NdisIMInitializeDeviceInstanceEx';
    const d = handleArg(this, fn, 'DriverHandle', DriverHandle, 'miniport', 'a miniport driver handle');
    if (typeof DriverInstance !== 'string' || DriverInstance.length === 0) throw badParam(fn, 'DriverInstance', DriverInstance, 'a device instance name');
    if (!isU32(DeviceContext)) throw badParam(fn, 'DeviceContext', DeviceContext, 'a context value (u32)');
    const a = createAdapter(this, d.handle, { name: DriverInstance }, DeviceContext);
    return a ? NDIS_STATUS_SUCCESS : NDIS_STATUS_FAILURE;
  },

  /** Halts a virtual miniport started with NdisIMInitializeDeviceInstanceEx. */
  NdisIMDeInitializeDeviceInstance(this: RuntimeCore, NdisMiniportHandle: NDIS_HANDLE): NDIS_STATUS {
    const fn = 'NdisIMDeInitializeDeviceInstance';
    const a = handleArg(this, fn, 'NdisMiniportHandle', NdisMiniportHandle, 'adapter', 'a miniport adapter handle');
    halt(this, a, NdisHaltDeviceInstanceDeInitialized);
    return NDIS_STATUS_SUCCESS;
  },
};


/** Asks filters below `level` and then the miniport to cancel sends with `id`. */
function cancelDown(a: AdapterRecord, level: number, id: number): void {
  for (let i = level - 1; i >= 0; i--) {
    const f = a.filters[i]!;
    const h = f.driver.chars.CancelSendNetBufferListsHandler;
    if (typeof h === 'function') (h as (c: number, id: number) => void)(f.context!, id);
  }
  if (a.state !== 'halted') (a.driver.chars.CancelSendHandler as (c: number, id: number) => void)(a.context!, id);
}

/** @internal Unbinds a protocol's bindings before it deregisters (NdisDeregisterProtocolDriver). */
export function unbindProtocol(rt: RuntimeCore, handle: number): void {
  const o = modelOf(rt).objects.get(handle);
  if (o?.type === 'protocol') for (const b of [...o.bindings]) unbind(rt, b);
}

/** @internal Registers a protocol with the driver model (NdisRegisterProtocolDriver). */
export function addProtocol(rt: RuntimeCore, handle: number, context: number, chars: NDIS_PROTOCOL_DRIVER_CHARACTERISTICS): void {
  const p: ProtocolRecord = { type: 'protocol', handle, context, chars, bindings: new Set(), imMiniport: 0 };
  p.chars = tracked(rt, chars, p);
  modelOf(rt).objects.set(handle, p);
}

/** @internal The model type of a handle ('protocol', 'adapter'…), or undefined. */
export function handleType(rt: RuntimeCore, handle: number): string | undefined {
  return modelOf(rt).objects.get(handle)?.type;
}

/** @internal Drops a protocol from the model (after deregistration). */
export function removeProtocol(rt: RuntimeCore, handle: number): void {
  modelOf(rt).objects.delete(handle);
}

/** A driver whose handlers the model calls. */
type DriverRecord = MiniportDriver | FilterDriver | ProtocolRecord;

/** Per runtime: the drivers whose handlers are running, innermost last. */
const running = new WeakMap<RuntimeCore, DriverRecord[]>();

/**
 * A copy of `chars` whose handlers record, while they run, which driver is running (the
 * verifier's NDIS5-IN-6 check asks whether the innermost caller is a miniport, BUF-1 whether it
 * is a lower driver).
 */
function tracked<T extends object>(rt: RuntimeCore, chars: T, driver: DriverRecord): T {
  const out = { ...chars } as Record<string, unknown>;
  for (const [k, v] of Object.entries(out)) {
    if (typeof v !== 'function') continue;
    const f = v as (...a: unknown[]) => unknown;
    out[k] = function (this: unknown, ...args: unknown[]) {
      let st = running.get(rt);
      if (!st) running.set(rt, (st = []));
      st.push(driver);
      try {
        return f.apply(this, args);
      } finally {
        st.pop();
      }
    };
  }
  return out as T;
}

/** @internal The kind of driver whose handler is running innermost ('miniport'…), or undefined. */
export function runningDriver(rt: RuntimeCore): string | undefined {
  const st = running.get(rt);
  return st && st.length ? st[st.length - 1]!.type : undefined;
}

/**
 * @internal The driver whose handler is running innermost when it is a lower driver (BUF-1): a
 * miniport (an intermediate driver's virtual miniport included), a filter, or the protocol edge of
 * an intermediate driver (NdisIMAssociateMiniport). Undefined for a highest-level protocol or
 * when no handler runs.
 */
export function runningLowerDriver(rt: RuntimeCore): { handle: number; what: string } | undefined {
  const st = running.get(rt);
  const d = st && st.length ? st[st.length - 1]! : undefined;
  if (!d || (d.type === 'protocol' && d.imMiniport === 0)) return undefined;
  const what = d.type === 'protocol' ? `${describe(d)}, the protocol edge of an intermediate driver,` : describe(d);
  return { handle: d.handle, what };
}

/** @internal The DriverObject a miniport or filter driver registered with (0: none or not such a handle). */
export function driverObjectOf(rt: RuntimeCore, handle: unknown): number {
  const o = typeof handle === 'number' ? modelOf(rt).objects.get(handle) : undefined;
  return o?.type === 'miniport' || o?.type === 'filter' ? o.driverObject : 0;
}

/** @internal Adapters of the runtime (for the virtual hardware and poolmon-style reports). */
export function adaptersOf(rt: RuntimeCore): readonly AdapterRecord[] {
  return modelOf(rt).adapters;
}

export type DriverApi = typeof driverApi;
