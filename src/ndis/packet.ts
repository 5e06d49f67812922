/**
 * NDIS 5 packet and buffer pools (NDIS-SPEC §3, §4.5, §8; seed 003): NdisAllocatePacketPool(Ex)
 * and friends, NDIS_BUFFER chains and the packet accessors drivers use. Out-parameters are
 * boxes (DESIGN D3). The Dpr forms behave as the plain ones: IRQL is modelled by the verifier
 * mode of a later version, which will require DISPATCH_LEVEL for them.
 */
import { RuntimeCore, isU32 } from '../core.js';
import { NdisBugCheck, badParam, ruleViolation, hexAddr } from '../errors.js';
import {
  type NDIS_HANDLE, type NDIS_STATUS, type PMDL, type PVOID, type NULL, type Out, type Brand,
  NDIS_STATUS_SUCCESS, NDIS_STATUS_RESOURCES, NDIS_STATUS_FAILURE,
} from './constants.js';
import { E, MDL, PACKET, OOB } from './layout.js';
import { checkMdl, isOut, u32Arg } from './handles.js';

/** PNDIS_PACKET. */
export type PNDIS_PACKET = Brand<'NDIS_PACKET'>;
/** PNDIS_BUFFER: an MDL. */
export type PNDIS_BUFFER = PMDL;

/** fPACKET_ALLOCATED_BY_NDIS (Private.NdisPacketFlags). */
export const fPACKET_ALLOCATED_BY_NDIS = 0x80;
export const fPACKET_CONTAINS_MEDIA_SPECIFIC_INFO = 0x40;
/** NdisAllocatePacketPoolEx's descriptor ceiling. */
export const NDIS_PACKET_POOL_MAX_DESCRIPTORS = 0xffff;

const POOL_EXPECTED = 'a packet pool handle';

function outArg(fn: string, name: string, v: unknown): void {
  if (!isOut(v)) throw badParam(fn, name, v, 'an out box { value }');
}

function optOut(fn: string, name: string, v: unknown): Out<number> | undefined {
  if (v === undefined || v === null) return undefined;
  outArg(fn, name, v);
  return v as Out<number>;
}

/** @internal Checks a live packet descriptor (PKT-1 for anything else). */
function checkPacket(rt: RuntimeCore, fn: string, name: string, p: unknown): number {
  if (!isU32(p)) throw badParam(fn, name, p, 'a PNDIS_PACKET');
  const e = rt.wasm.packetCheck(p, 0) >>> 0;
  if (e !== E.OK) throw packetFail(rt, fn, e, name, p);
  rt.sync();
  return p;
}

function packetFail(rt: RuntimeCore, fn: string, e: number, name: string, value: number): NdisBugCheck {
  if (e === E.PKT1) {
    const pool = rt.wasm.errDetail() >>> 0;
    return ruleViolation(fn, name, 'PKT-1', `${hexAddr(value)}'s Private.Pool (${hexAddr(pool)}) no longer names the pool it was allocated from`, value, pool);
  }
  return rt.fail(fn, e, [name], [value], 'an NDIS_PACKET from a packet pool', 'PKT-1', 'PKT-1');
}

function allocatePacket(rt: RuntimeCore, fn: string, Status: Out<NDIS_STATUS>, Packet: Out<PNDIS_PACKET | NULL>, PoolHandle: NDIS_HANDLE): void {
  outArg(fn, 'Status', Status);
  outArg(fn, 'Packet', Packet);
  if (!isU32(PoolHandle)) throw badParam(fn, 'PoolHandle', PoolHandle, 'an NDIS_HANDLE');
  const r = rt.wasm.packetAllocate(PoolHandle) >>> 0;
  if (r !== 0 && r < E.LIMIT) throw rt.fail(fn, r, ['Status', 'Packet', 'PoolHandle'], [0, 0, PoolHandle], POOL_EXPECTED, 'ALT-POOL');
  Packet.value = r as PNDIS_PACKET | NULL;
  Status.value = r === 0 ? NDIS_STATUS_RESOURCES : NDIS_STATUS_SUCCESS;
}

function freePacket(rt: RuntimeCore, fn: string, Packet: PNDIS_PACKET): void {
  if (!isU32(Packet)) throw badParam(fn, 'Packet', Packet, 'a PNDIS_PACKET');
  const e = rt.wasm.packetFree(Packet) >>> 0;
  if (e !== E.OK) throw packetFail(rt, fn, e, 'Packet', Packet);
}

function createPool(
  rt: RuntimeCore, fn: string, Status: Out<NDIS_STATUS>, PoolHandle: Out<NDIS_HANDLE | NULL>,
  num: number, overflow: number, len: number,
): void {
  outArg(fn, 'Status', Status);
  outArg(fn, 'PoolHandle', PoolHandle);
  PoolHandle.value = 0;
  const h = rt.wasm.packetPoolCreate(num, overflow, len) >>> 0;
  PoolHandle.value = h as NDIS_HANDLE | NULL;
  Status.value = h === 0 ? NDIS_STATUS_RESOURCES : NDIS_STATUS_SUCCESS;
}

function chain(rt: RuntimeCore, fn: string, Packet: PNDIS_PACKET, Buffer: PNDIS_BUFFER, front: boolean): void {
  if (!isU32(Packet)) throw badParam(fn, 'Packet', Packet, 'a PNDIS_PACKET');
  if (!isU32(Buffer)) throw badParam(fn, 'Buffer', Buffer, 'a PNDIS_BUFFER');
  // The Wasm call checks the packet first (PKT-1) and changes nothing on any error.
  const e = (front ? rt.wasm.chainAtFront(Packet, Buffer) : rt.wasm.chainAtBack(Packet, Buffer)) >>> 0;
  if (e === E.OK) return;
  if (e === E.PKT1 || (e < E.POOL4 && e >>> E.ARG_SHIFT === 0)) throw packetFail(rt, fn, e, 'Packet', Packet);
  const p = rt.wasm.errPtr() >>> 0;
  if (e === E.BUF_CHAINED) {
    const q = rt.wasm.errDetail() >>> 0;
    throw ruleViolation(fn, 'Buffer', 'PKT-2', `${hexAddr(p)} is already chained to ${q === Packet ? 'this' : 'another'} packet (${hexAddr(q)}); unchain it first`, p, q);
  }
  if (e === E.MDL_LOOP) throw ruleViolation(fn, 'Buffer', 'NB-CONS', `${hexAddr(Buffer)} is a buffer chain that loops back on itself`, Buffer);
  throw rt.fail(fn, e, ['Packet', 'Buffer'], [Packet, p], 'an NDIS_BUFFER (MDL)', 'ALT-MDL');
}

function unchain(rt: RuntimeCore, fn: string, Packet: PNDIS_PACKET, Buffer: Out<PNDIS_BUFFER | NULL>, front: boolean): void {
  if (!isU32(Packet)) throw badParam(fn, 'Packet', Packet, 'a PNDIS_PACKET');
  outArg(fn, 'Buffer', Buffer);
  const e = (front ? rt.wasm.unchainAtFront(Packet) : rt.wasm.unchainAtBack(Packet)) >>> 0;
  if (e === E.PKT1 || (e !== E.OK && e < E.POOL4)) throw packetFail(rt, fn, e, 'Packet', Packet);
  if (e !== E.OK) throw ruleViolation(fn, 'Packet', 'NB-CONS', `${hexAddr(Packet)} has a buffer chain whose Tail is not on it, or that loops`, Packet);
  Buffer.value = (rt.wasm.pkResult() >>> 0) as PNDIS_BUFFER | NULL;
}

function oob(rt: RuntimeCore, p: number): number {
  return p + rt.u16[(p + PACKET.NdisPacketOobOffset) >>> 1]!;
}

export const packetApi = {
  /**
   * Creates a pool of `NumberOfDescriptors` packet descriptors (a hard limit), each with
   * `ProtocolReservedLength` bytes of ProtocolReserved. The descriptors' memory is reserved now.
   * `Status.value`: NDIS_STATUS_SUCCESS, or NDIS_STATUS_RESOURCES (more than 0xFFFF descriptors,
   * or not enough memory) with `PoolHandle.value` NULL.
   */
  NdisAllocatePacketPool(
    this: RuntimeCore, Status: Out<NDIS_STATUS>, PoolHandle: Out<NDIS_HANDLE | NULL>, NumberOfDescriptors: number, ProtocolReservedLength: number,
  ): void {
    const fn = 'NdisAllocatePacketPool';
    u32Arg(fn, 'NumberOfDescriptors', NumberOfDescriptors);
    u32Arg(fn, 'ProtocolReservedLength', ProtocolReservedLength);
    createPool(this, fn, Status, PoolHandle, NumberOfDescriptors, 0, ProtocolReservedLength);
  },

  /**
   * As NdisAllocatePacketPool, plus up to `NumberOfOverflowDescriptors` descriptors created on
   * demand while all static ones are in use (total capped at 0xFFFF); a freed overflow
   * descriptor is destroyed, a static one goes back to the free list (DESIGN decision 16).
   */
  NdisAllocatePacketPoolEx(
    this: RuntimeCore, Status: Out<NDIS_STATUS>, PoolHandle: Out<NDIS_HANDLE | NULL>, NumberOfDescriptors: number,
    NumberOfOverflowDescriptors: number, ProtocolReservedLength: number,
  ): void {
    const fn = 'NdisAllocatePacketPoolEx';
    u32Arg(fn, 'NumberOfDescriptors', NumberOfDescriptors);
    u32Arg(fn, 'NumberOfOverflowDescriptors', NumberOfOverflowDescriptors);
    u32Arg(fn, 'ProtocolReservedLength', ProtocolReservedLength);
    createPool(this, fn, Status, PoolHandle, NumberOfDescriptors, NumberOfOverflowDescriptors, ProtocolReservedLength);
  },

  /** Frees a packet pool. @throws NdisBugCheck PKT-4 while packets are outstanding. */
  NdisFreePacketPool(this: RuntimeCore, PoolHandle: NDIS_HANDLE): void {
    const fn = 'NdisFreePacketPool';
    if (!isU32(PoolHandle)) throw badParam(fn, 'PoolHandle', PoolHandle, 'an NDIS_HANDLE');
    const e = this.wasm.packetPoolFree(PoolHandle) >>> 0;
    if (e === E.PKT4) {
      const n = this.wasm.errDetail() >>> 0;
      throw ruleViolation(fn, 'PoolHandle', 'PKT-4', `${hexAddr(PoolHandle)} still has ${n} packet(s) allocated (NdisPacketPoolUsage must be 0)`, PoolHandle, n);
    }
    if (e !== E.OK) throw this.fail(fn, e, ['PoolHandle'], [PoolHandle], POOL_EXPECTED, 'ALT-POOL');
  },

  /** Number of packets currently allocated from the pool (static + overflow). */
  NdisPacketPoolUsage(this: RuntimeCore, PoolHandle: NDIS_HANDLE): number {
    const fn = 'NdisPacketPoolUsage';
    if (!isU32(PoolHandle)) throw badParam(fn, 'PoolHandle', PoolHandle, 'an NDIS_HANDLE');
    const e = this.wasm.packetPoolCheck(PoolHandle, 0) >>> 0;
    if (e !== E.OK) throw this.fail(fn, e, ['PoolHandle'], [PoolHandle], POOL_EXPECTED, 'ALT-POOL');
    this.sync();
    return this.poolStatsAt(PoolHandle).outstanding;
  },

  /** The pool a packet came from. */
  NdisGetPoolFromPacket(this: RuntimeCore, Packet: PNDIS_PACKET): NDIS_HANDLE {
    checkPacket(this, 'NdisGetPoolFromPacket', 'Packet', Packet);
    return this.rd32(Packet + PACKET.Pool) as NDIS_HANDLE;
  },

  /** NdisPacketSize(ProtocolReservedSize): bytes of one descriptor (packet, OOB data, extension). */
  NdisPacketSize(this: RuntimeCore, ProtocolReservedSize: number): number {
    u32Arg('NdisPacketSize', 'ProtocolReservedSize', ProtocolReservedSize);
    return this.wasm.packetSize(ProtocolReservedSize) >>> 0;
  },

  /** Sets the protocol ID (low nibble of Private.Flags) of the pool's later packets. */
  NdisSetPacketPoolProtocolId(this: RuntimeCore, PacketPoolHandle: NDIS_HANDLE, ProtocolId: number): void {
    const fn = 'NdisSetPacketPoolProtocolId';
    if (!isU32(PacketPoolHandle)) throw badParam(fn, 'PacketPoolHandle', PacketPoolHandle, 'an NDIS_HANDLE');
    if (!isU32(ProtocolId) || ProtocolId > 0x0f) throw badParam(fn, 'ProtocolId', ProtocolId, 'an NDIS_PROTOCOL_ID_* value (0..0x0F)');
    const e = this.wasm.packetPoolSetProtocolId(PacketPoolHandle, ProtocolId) >>> 0;
    if (e !== E.OK) throw this.fail(fn, e, ['PacketPoolHandle'], [PacketPoolHandle], POOL_EXPECTED, 'ALT-POOL');
  },

  /**
   * Allocates a packet: zeroed, Head/Tail NULL, ValidCounts FALSE, Private.Pool set.
   * `Status.value` NDIS_STATUS_SUCCESS, or NDIS_STATUS_RESOURCES at the pool's limit
   * (`Packet.value` NULL).
   */
  NdisAllocatePacket(this: RuntimeCore, Status: Out<NDIS_STATUS>, Packet: Out<PNDIS_PACKET | NULL>, PoolHandle: NDIS_HANDLE): void {
    allocatePacket(this, 'NdisAllocatePacket', Status, Packet, PoolHandle);
  },
  /** NdisAllocatePacket for callers at DISPATCH_LEVEL. */
  NdisDprAllocatePacket(this: RuntimeCore, Status: Out<NDIS_STATUS>, Packet: Out<PNDIS_PACKET | NULL>, PoolHandle: NDIS_HANDLE): void {
    allocatePacket(this, 'NdisDprAllocatePacket', Status, Packet, PoolHandle);
  },
  /** NdisDprAllocatePacket without the pool lock (the caller serialises). */
  NdisDprAllocatePacketNonInterlocked(this: RuntimeCore, Status: Out<NDIS_STATUS>, Packet: Out<PNDIS_PACKET | NULL>, PoolHandle: NDIS_HANDLE): void {
    allocatePacket(this, 'NdisDprAllocatePacketNonInterlocked', Status, Packet, PoolHandle);
  },
  /** Returns a packet to its pool. Buffers still chained are not freed (save them first). */
  NdisFreePacket(this: RuntimeCore, Packet: PNDIS_PACKET): void {
    freePacket(this, 'NdisFreePacket', Packet);
  },
  /** NdisFreePacket for callers at DISPATCH_LEVEL. */
  NdisDprFreePacket(this: RuntimeCore, Packet: PNDIS_PACKET): void {
    freePacket(this, 'NdisDprFreePacket', Packet);
  },
  /** NdisDprFreePacket without the pool lock. */
  NdisDprFreePacketNonInterlocked(this: RuntimeCore, Packet: PNDIS_PACKET): void {
    freePacket(this, 'NdisDprFreePacketNonInterlocked', Packet);
  },
  /** Head = Tail = NULL, ValidCounts = FALSE; nothing else changes (DESIGN decision 15). */
  NdisReinitializePacket(this: RuntimeCore, Packet: PNDIS_PACKET): void {
    const fn = 'NdisReinitializePacket';
    if (!isU32(Packet)) throw badParam(fn, 'Packet', Packet, 'a PNDIS_PACKET');
    const e = this.wasm.packetReinitialize(Packet) >>> 0;
    if (e !== E.OK) throw packetFail(this, fn, e, 'Packet', Packet);
  },

  // -- buffers ------------------------------------------------------------------------------------

  /** A buffer pool. `Status.value` is NDIS_STATUS_SUCCESS (RESOURCES only when memory is out). */
  NdisAllocateBufferPool(this: RuntimeCore, Status: Out<NDIS_STATUS>, PoolHandle: Out<NDIS_HANDLE | NULL>, NumberOfDescriptors: number): void {
    const fn = 'NdisAllocateBufferPool';
    outArg(fn, 'Status', Status);
    outArg(fn, 'PoolHandle', PoolHandle);
    u32Arg(fn, 'NumberOfDescriptors', NumberOfDescriptors);
    const h = this.wasm.bufferPoolCreate(NumberOfDescriptors) >>> 0;
    PoolHandle.value = h as NDIS_HANDLE | NULL;
    Status.value = h === 0 ? NDIS_STATUS_RESOURCES : NDIS_STATUS_SUCCESS;
  },
  /** Frees a buffer pool. */
  NdisFreeBufferPool(this: RuntimeCore, PoolHandle: NDIS_HANDLE): void {
    const fn = 'NdisFreeBufferPool';
    if (!isU32(PoolHandle)) throw badParam(fn, 'PoolHandle', PoolHandle, 'an NDIS_HANDLE');
    const e = this.wasm.bufferPoolFree(PoolHandle) >>> 0;
    if (e !== E.OK) throw this.fail(fn, e, ['PoolHandle'], [PoolHandle], 'a buffer pool handle', 'ALT-POOL');
  },
  /**
   * An NDIS_BUFFER (MDL) describing `Length` bytes at `VirtualAddress`, which must lie inside one
   * live allocation of the runtime. `Status.value` NDIS_STATUS_SUCCESS, or NDIS_STATUS_FAILURE
   * (not RESOURCES, as NDIS documents) when memory is out.
   */
  NdisAllocateBuffer(
    this: RuntimeCore, Status: Out<NDIS_STATUS>, Buffer: Out<PNDIS_BUFFER | NULL>, PoolHandle: NDIS_HANDLE | NULL,
    VirtualAddress: PVOID, Length: number,
  ): void {
    const fn = 'NdisAllocateBuffer';
    outArg(fn, 'Status', Status);
    outArg(fn, 'Buffer', Buffer);
    if (!isU32(PoolHandle)) throw badParam(fn, 'PoolHandle', PoolHandle, 'an NDIS_HANDLE or NULL (0)');
    if (!isU32(VirtualAddress)) throw badParam(fn, 'VirtualAddress', VirtualAddress, 'a PVOID');
    u32Arg(fn, 'Length', Length);
    const r = this.wasm.bufferAllocate(PoolHandle, VirtualAddress, Length) >>> 0;
    if (r === E.BAD_RANGE) {
      throw ruleViolation(fn, 'VirtualAddress', 'PARAM', `${hexAddr(VirtualAddress)} + ${Length} is not inside one live allocation (nonpaged memory from this runtime)`, VirtualAddress, Length);
    }
    if (r !== 0 && r < E.LIMIT) throw this.fail(fn, r, ['Status', 'Buffer', 'PoolHandle'], [0, 0, PoolHandle], 'a buffer pool handle', 'ALT-POOL');
    Buffer.value = r as PNDIS_BUFFER | NULL;
    Status.value = r === 0 ? NDIS_STATUS_FAILURE : NDIS_STATUS_SUCCESS;
  },
  /** Frees an NDIS_BUFFER. @throws NdisBugCheck PKT-2 while it is chained to a live packet. */
  NdisFreeBuffer(this: RuntimeCore, Buffer: PNDIS_BUFFER): void {
    const fn = 'NdisFreeBuffer';
    if (!isU32(Buffer)) throw badParam(fn, 'Buffer', Buffer, 'a PNDIS_BUFFER');
    const e = this.wasm.bufferFree(Buffer) >>> 0;
    if (e === E.BUF_CHAINED) {
      const q = this.wasm.errDetail() >>> 0;
      throw ruleViolation(fn, 'Buffer', 'PKT-2', `${hexAddr(Buffer)} is still chained to packet ${hexAddr(q)}; unchain it first`, Buffer, q);
    }
    if (e !== E.OK) throw this.fail(fn, e, ['Buffer'], [Buffer], 'an NDIS_BUFFER', 'ALT-MDL');
  },
  /** NdisChainBufferAtFront(Packet, Buffer): `Buffer` may be a chain; ValidCounts becomes FALSE. */
  NdisChainBufferAtFront(this: RuntimeCore, Packet: PNDIS_PACKET, Buffer: PNDIS_BUFFER): void {
    chain(this, 'NdisChainBufferAtFront', Packet, Buffer, true);
  },
  /** NdisChainBufferAtBack(Packet, Buffer). */
  NdisChainBufferAtBack(this: RuntimeCore, Packet: PNDIS_PACKET, Buffer: PNDIS_BUFFER): void {
    chain(this, 'NdisChainBufferAtBack', Packet, Buffer, false);
  },
  /** Takes the first buffer off the packet (`Buffer.value` NULL when there is none). */
  NdisUnchainBufferAtFront(this: RuntimeCore, Packet: PNDIS_PACKET, Buffer: Out<PNDIS_BUFFER | NULL>): void {
    unchain(this, 'NdisUnchainBufferAtFront', Packet, Buffer, true);
  },
  /** Takes the last buffer off the packet (`Buffer.value` NULL when there is none). */
  NdisUnchainBufferAtBack(this: RuntimeCore, Packet: PNDIS_PACKET, Buffer: Out<PNDIS_BUFFER | NULL>): void {
    unchain(this, 'NdisUnchainBufferAtBack', Packet, Buffer, false);
  },
  /**
   * NdisQueryPacket: each out box is optional (pass undefined for a NULL pointer). Counts are
   * recomputed when ValidCounts is FALSE (PhysicalBufferCount = pages spanned, an empty buffer
   * counting 1; TotalPacketLength = the sum of ByteCounts) and cached.
   */
  NdisQueryPacket(
    this: RuntimeCore, Packet: PNDIS_PACKET, PhysicalBufferCount?: Out<number> | null, BufferCount?: Out<number> | null,
    FirstBuffer?: Out<PNDIS_BUFFER | NULL> | null, TotalPacketLength?: Out<number> | null,
  ): void {
    const fn = 'NdisQueryPacket';
    checkPacket(this, fn, 'Packet', Packet);
    const pc = optOut(fn, 'PhysicalBufferCount', PhysicalBufferCount);
    const bc = optOut(fn, 'BufferCount', BufferCount);
    const fb = optOut(fn, 'FirstBuffer', FirstBuffer);
    const tl = optOut(fn, 'TotalPacketLength', TotalPacketLength);
    if (pc || bc || tl) {
      const e = this.wasm.packetQuery(Packet) >>> 0;
      if (e !== E.OK) throw ruleViolation(fn, 'Packet', 'NB-CONS', `${hexAddr(Packet)} has a buffer chain that loops`, Packet);
    }
    this.sync();
    if (pc) pc.value = this.rd32(Packet + PACKET.PhysicalCount);
    if (bc) bc.value = this.rd32(Packet + PACKET.Count);
    if (fb) fb.value = this.rd32(Packet + PACKET.Head);
    if (tl) tl.value = this.rd32(Packet + PACKET.TotalLength);
  },
  /** NdisQueryBuffer(Buffer, VirtualAddress?, Length): the buffer's address and byte count. */
  NdisQueryBuffer(this: RuntimeCore, Buffer: PNDIS_BUFFER, VirtualAddress: Out<PVOID> | null | undefined, Length: Out<number>): void {
    const fn = 'NdisQueryBuffer';
    checkMdl(this, fn, 'Buffer', Buffer);
    const va = optOut(fn, 'VirtualAddress', VirtualAddress);
    outArg(fn, 'Length', Length);
    if (va) va.value = ((this.rd32(Buffer + MDL.StartVa) + this.rd32(Buffer + MDL.ByteOffset)) >>> 0) as PVOID;
    Length.value = this.rd32(Buffer + MDL.ByteCount);
  },
  /** NdisGetNextBuffer(CurrentBuffer, NextBuffer): the next buffer of the chain (NULL at the end). */
  NdisGetNextBuffer(this: RuntimeCore, CurrentBuffer: PNDIS_BUFFER, NextBuffer: Out<PNDIS_BUFFER | NULL>): void {
    const fn = 'NdisGetNextBuffer';
    checkMdl(this, fn, 'CurrentBuffer', CurrentBuffer);
    outArg(fn, 'NextBuffer', NextBuffer);
    NextBuffer.value = this.rd32(CurrentBuffer + MDL.Next) as PNDIS_BUFFER | NULL;
  },
  /** NdisBufferLength(Buffer): its byte count. */
  NdisBufferLength(this: RuntimeCore, Buffer: PNDIS_BUFFER): number {
    checkMdl(this, 'NdisBufferLength', 'Buffer', Buffer);
    return this.rd32(Buffer + MDL.ByteCount);
  },

  // -- packet accessors ------------------------------------------------------------------------

  /** NDIS_GET_PACKET_STATUS(Packet): the OOB Status (signed). */
  NDIS_GET_PACKET_STATUS(this: RuntimeCore, Packet: PNDIS_PACKET): NDIS_STATUS {
    checkPacket(this, 'NDIS_GET_PACKET_STATUS', 'Packet', Packet);
    return this.rd32(oob(this, Packet) + OOB.Status) | 0;
  },
  /** NDIS_SET_PACKET_STATUS(Packet, Status). */
  NDIS_SET_PACKET_STATUS(this: RuntimeCore, Packet: PNDIS_PACKET, Status: NDIS_STATUS): void {
    const fn = 'NDIS_SET_PACKET_STATUS';
    checkPacket(this, fn, 'Packet', Packet);
    if (!Number.isInteger(Status) || Status < -0x80000000 || Status > 0xffffffff) throw badParam(fn, 'Status', Status, 'an NDIS_STATUS (32-bit integer)');
    this.u32[(oob(this, Packet) + OOB.Status) >>> 2] = Status >>> 0;
  },
  /** NDIS_GET_PACKET_HEADER_SIZE(Packet): the OOB HeaderSize. */
  NDIS_GET_PACKET_HEADER_SIZE(this: RuntimeCore, Packet: PNDIS_PACKET): number {
    checkPacket(this, 'NDIS_GET_PACKET_HEADER_SIZE', 'Packet', Packet);
    return this.rd32(oob(this, Packet) + OOB.HeaderSize);
  },
  /** NDIS_SET_PACKET_HEADER_SIZE(Packet, HeaderSize). */
  NDIS_SET_PACKET_HEADER_SIZE(this: RuntimeCore, Packet: PNDIS_PACKET, HeaderSize: number): void {
    const fn = 'NDIS_SET_PACKET_HEADER_SIZE';
    checkPacket(this, fn, 'Packet', Packet);
    u32Arg(fn, 'HeaderSize', HeaderSize);
    this.u32[(oob(this, Packet) + OOB.HeaderSize) >>> 2] = HeaderSize;
  },
  /** NdisGetPacketFlags(Packet): Private.Flags. */
  NdisGetPacketFlags(this: RuntimeCore, Packet: PNDIS_PACKET): number {
    checkPacket(this, 'NdisGetPacketFlags', 'Packet', Packet);
    return this.rd32(Packet + PACKET.Flags);
  },
  /** NdisSetPacketFlags(Packet, Flags): Private.Flags |= Flags (the ndis.h macro ORs them in). */
  NdisSetPacketFlags(this: RuntimeCore, Packet: PNDIS_PACKET, Flags: number): void {
    const fn = 'NdisSetPacketFlags';
    checkPacket(this, fn, 'Packet', Packet);
    u32Arg(fn, 'Flags', Flags);
    this.u32[(Packet + PACKET.Flags) >>> 2] = (this.rd32(Packet + PACKET.Flags) | Flags) >>> 0;
  },
  /** Address of the packet's ProtocolReserved area (ProtocolReservedLength bytes, at +0x38). */
  NDIS_PACKET_PROTOCOL_RESERVED(this: RuntimeCore, Packet: PNDIS_PACKET): PVOID {
    checkPacket(this, 'NDIS_PACKET_PROTOCOL_RESERVED', 'Packet', Packet);
    return (Packet + PACKET.ProtocolReserved) as PVOID;
  },
  /** Address of the packet's MiniportReserved area (the 16-byte union at +0x20). */
  NDIS_PACKET_MINIPORT_RESERVED(this: RuntimeCore, Packet: PNDIS_PACKET): PVOID {
    checkPacket(this, 'NDIS_PACKET_MINIPORT_RESERVED', 'Packet', Packet);
    return (Packet + PACKET.MiniportReserved) as PVOID;
  },
};

export type PacketApi = typeof packetApi;

/** Idiomatic statistics of a packet pool (not an NDIS function). */
export const packetPoolInfoApi = {
  /** Usage split by descriptor origin, and the pool's limits. */
  packetPoolInfo(this: RuntimeCore, PoolHandle: NDIS_HANDLE): { usage: number; overflowInUse: number; staticInUse: number; limit: number } {
    const fn = 'packetPoolInfo';
    if (!isU32(PoolHandle)) throw badParam(fn, 'PoolHandle', PoolHandle, 'an NDIS_HANDLE');
    const e = this.wasm.packetPoolCheck(PoolHandle, 0) >>> 0;
    if (e !== E.OK) throw this.fail(fn, e, ['PoolHandle'], [PoolHandle], POOL_EXPECTED, 'ALT-POOL');
    const s = this.poolStatsAt(PoolHandle);
    const overflow = this.wasm.packetPoolOverflowInUse(PoolHandle) >>> 0;
    return { usage: s.outstanding, overflowInUse: overflow, staticInUse: s.outstanding - overflow, limit: s.maxOutstanding };
  },
};

export type PacketPoolInfoApi = typeof packetPoolInfoApi;
