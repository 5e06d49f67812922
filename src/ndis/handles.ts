/**
 * Handles through which drivers obtain pools (seed 000, NDIS-SPEC §6), tagged memory and MDLs.
 * Every handle is a live record in Wasm memory and is validated like every pointer.
 */
import { RuntimeCore, isU32 } from '../core.js';
import { badParam, ruleViolation, hexAddr } from '../errors.js';
import {
  type NDIS_HANDLE, type NDIS_STATUS, type PMDL, type PVOID, type NULL, type Out, type PNDIS_GENERIC_OBJECT,
  type NDIS_OBJECT_HEADER,
  NDIS_STATUS_SUCCESS, NDIS_STATUS_RESOURCES, NDIS_STATUS_BAD_VERSION, NDIS_STATUS_BAD_CHARACTERISTICS,
  NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS, NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1,
  NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2, NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1,
  NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2, MDL_MAPPED_TO_SYSTEM_VA, MdlMappingNoWrite,
  MdlMappingNoExecute,
} from './constants.js';
import { E, KIND, MDL } from './layout.js';
import { addProtocol, bindNewProtocol, handleType, removeProtocol, unbindProtocol } from './driver.js';

/** A protocol callback. Arguments follow the C handler; the driver-model issue invokes them. */
export type ProtocolHandler = (...args: never[]) => unknown;

/** NDIS_PROTOCOL_DRIVER_CHARACTERISTICS, with C field names; handlers are JS functions. */
export interface NDIS_PROTOCOL_DRIVER_CHARACTERISTICS {
  Header: NDIS_OBJECT_HEADER;
  MajorNdisVersion: number;
  MinorNdisVersion: number;
  MajorDriverVersion?: number;
  MinorDriverVersion?: number;
  Flags?: number;
  /** NDIS_STRING Name. */
  Name: string;
  SetOptionsHandler?: ProtocolHandler | null;
  BindAdapterHandlerEx: ProtocolHandler;
  UnbindAdapterHandlerEx: ProtocolHandler;
  OpenAdapterCompleteHandlerEx: ProtocolHandler;
  CloseAdapterCompleteHandlerEx: ProtocolHandler;
  NetPnPEventHandler: ProtocolHandler;
  UninstallHandler?: ProtocolHandler | null;
  OidRequestCompleteHandler: ProtocolHandler;
  StatusHandlerEx: ProtocolHandler;
  ReceiveNetBufferListsHandler: ProtocolHandler;
  SendNetBufferListsCompleteHandler: ProtocolHandler;
  /** Revision 2 (NDIS 6.30) only. */
  DirectOidRequestCompleteHandler?: ProtocolHandler | null;
}

/** The handlers NDIS requires of every NDIS 6 protocol driver. */
export const REQUIRED_PROTOCOL_HANDLERS = [
  'BindAdapterHandlerEx',
  'UnbindAdapterHandlerEx',
  'OpenAdapterCompleteHandlerEx',
  'CloseAdapterCompleteHandlerEx',
  'NetPnPEventHandler',
  'OidRequestCompleteHandler',
  'StatusHandlerEx',
  'ReceiveNetBufferListsHandler',
  'SendNetBufferListsCompleteHandler',
] as const;
const OPTIONAL_PROTOCOL_HANDLERS = ['SetOptionsHandler', 'UninstallHandler', 'DirectOidRequestCompleteHandler'] as const;

/** NDIS 6 minor versions a protocol may declare (6.0 … 6.89). */
export const NDIS6_MINOR_VERSIONS: readonly number[] = [0, 1, 20, 30, 40, 50, 51, 60, 70, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89];

const POOL_PRIORITIES = new Set([0, 8, 9, 16, 24, 25, 32, 40, 41]);
const PAGE_PRIORITIES = new Set([0, 16, 32]);

/** @internal */
export function isOut(v: unknown): v is Out<unknown> {
  return typeof v === 'object' && v !== null && 'value' in v;
}

/** @internal Checks a USHORT argument. */
export function u16Arg(fn: string, name: string, v: unknown): number {
  if (!isU32(v) || v > 0xffff) throw badParam(fn, name, v, 'a USHORT (integer 0..65535)');
  return v;
}

/** @internal Checks a ULONG/UINT argument. */
export function u32Arg(fn: string, name: string, v: unknown): number {
  if (!isU32(v)) throw badParam(fn, name, v, 'a ULONG (integer 0..0xFFFFFFFF)');
  return v;
}

/** @internal Checks a live MDL (from NdisAllocateMdl, or the MDL of an MdlAndData NET_BUFFER). */
export function checkMdl(rt: RuntimeCore, fn: string, name: string, mdl: unknown): number {
  if (!isU32(mdl)) throw badParam(fn, name, mdl, 'a PMDL');
  rt.sync();
  if (rt.liveIn(mdl, KIND.MDL) >= E.LIMIT) return mdl;
  const e = rt.wasm.mdlCheck(mdl) >>> 0;
  if (e !== E.OK) throw rt.fail(fn, e, [name], [mdl], 'an MDL', 'ALT-MDL');
  return mdl;
}

export const handleApi = {
  /**
   * Registers an NDIS 6 protocol driver (PASSIVE_LEVEL). Checks the characteristics header
   * (Type, Revision, Size >= the revision's size), the NDIS version (6.x) and the required
   * handlers as NDIS does.
   * @returns NDIS_STATUS_SUCCESS (handle in `NdisProtocolHandle.value`), NDIS_STATUS_BAD_CHARACTERISTICS,
   *   NDIS_STATUS_BAD_VERSION or NDIS_STATUS_RESOURCES (handle NULL).
   * @throws NdisBugCheck (PARAM) when `ProtocolCharacteristics` is not an object or the out box is missing.
   */
  NdisRegisterProtocolDriver(
    this: RuntimeCore,
    ProtocolDriverContext: number,
    ProtocolCharacteristics: NDIS_PROTOCOL_DRIVER_CHARACTERISTICS,
    NdisProtocolHandle: Out<NDIS_HANDLE | NULL>,
  ): NDIS_STATUS {
    const fn = 'NdisRegisterProtocolDriver';
    if (!isU32(ProtocolDriverContext)) throw badParam(fn, 'ProtocolDriverContext', ProtocolDriverContext, 'a context value (u32)');
    if (typeof ProtocolCharacteristics !== 'object' || ProtocolCharacteristics === null) {
      throw badParam(fn, 'ProtocolCharacteristics', ProtocolCharacteristics, 'an NDIS_PROTOCOL_DRIVER_CHARACTERISTICS object');
    }
    if (!isOut(NdisProtocolHandle)) throw badParam(fn, 'NdisProtocolHandle', NdisProtocolHandle, 'an out box { value }');
    NdisProtocolHandle.value = 0;
    const c = ProtocolCharacteristics;
    const h = c.Header as NDIS_OBJECT_HEADER | undefined;
    if (typeof h !== 'object' || h === null || h.Type !== NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS) return NDIS_STATUS_BAD_CHARACTERISTICS;
    const minSize =
      h.Revision === NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1
        ? NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1
        : h.Revision === NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2
          ? NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2
          : -1;
    if (minSize < 0 || !isU32(h.Size) || h.Size > 0xffff || h.Size < minSize) return NDIS_STATUS_BAD_CHARACTERISTICS;
    if (c.MajorNdisVersion !== 6 || !NDIS6_MINOR_VERSIONS.includes(c.MinorNdisVersion)) return NDIS_STATUS_BAD_VERSION;
    for (const k of ['MajorDriverVersion', 'MinorDriverVersion'] as const) {
      const v = c[k];
      if (v !== undefined && (!isU32(v) || v > 0xff)) return NDIS_STATUS_BAD_CHARACTERISTICS;
    }
    if (c.Flags !== undefined && !isU32(c.Flags)) return NDIS_STATUS_BAD_CHARACTERISTICS;
    if (typeof c.Name !== 'string' || c.Name.length === 0 || c.Name.length > 0x7fff) return NDIS_STATUS_BAD_CHARACTERISTICS;
    for (const k of REQUIRED_PROTOCOL_HANDLERS) if (typeof c[k] !== 'function') return NDIS_STATUS_BAD_CHARACTERISTICS;
    for (const k of OPTIONAL_PROTOCOL_HANDLERS) {
      const v = c[k];
      if (v !== undefined && v !== null && typeof v !== 'function') return NDIS_STATUS_BAD_CHARACTERISTICS;
    }
    if (h.Revision === NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1 && c.DirectOidRequestCompleteHandler) {
      // A revision-1 reader does not see the field; NDIS ignores it (DESIGN, decision 6).
    }
    const versions = (c.MajorNdisVersion | (c.MinorNdisVersion << 8) | ((c.MajorDriverVersion ?? 0) << 16) | ((c.MinorDriverVersion ?? 0) << 24)) >>> 0;
    const handle = this.wasm.protocolRegister(ProtocolDriverContext, versions, c.Flags ?? 0, 0) >>> 0;
    if (handle === 0) return NDIS_STATUS_RESOURCES;
    this.characteristics.set(handle, { ...c });
    addProtocol(this, handle, ProtocolDriverContext, c);
    NdisProtocolHandle.value = handle as NDIS_HANDLE;
    // NDIS binds the protocol to the adapters already running, later (runtime.pnp()).
    bindNewProtocol(this, handle);
    return NDIS_STATUS_SUCCESS;
  },

  /**
   * Releases a protocol driver handle.
   * @throws NdisBugCheck POOL-6 while pools created with the handle are not freed; ORIGIN for a
   *   handle that is not a live protocol handle.
   */
  NdisDeregisterProtocolDriver(this: RuntimeCore, NdisProtocolHandle: NDIS_HANDLE): void {
    const fn = 'NdisDeregisterProtocolDriver';
    if (!isU32(NdisProtocolHandle)) throw badParam(fn, 'NdisProtocolHandle', NdisProtocolHandle, 'an NDIS_HANDLE');
    const type = handleType(this, NdisProtocolHandle);
    if (type !== undefined && type !== 'protocol') {
      throw ruleViolation(fn, 'NdisProtocolHandle', 'DRV-2', `${hexAddr(NdisProtocolHandle)} is a ${type === 'module' ? 'filter module' : type} handle, not a protocol driver handle`, NdisProtocolHandle);
    }
    // NDIS unbinds the protocol from every adapter first (ProtocolUnbindAdapterEx).
    if (type === 'protocol') unbindProtocol(this, NdisProtocolHandle);
    const e = this.wasm.protocolDeregister(NdisProtocolHandle) >>> 0;
    if (e !== E.OK) throw this.fail(fn, e, ['NdisProtocolHandle'], [NdisProtocolHandle], 'a protocol driver handle', 'ORIGIN');
    this.characteristics.delete(NdisProtocolHandle);
    removeProtocol(this, NdisProtocolHandle);
  },

  /**
   * Allocates an NDIS_GENERIC_OBJECT (16 bytes, then `Size` zeroed caller bytes) usable as the
   * NdisHandle of pool, memory and MDL allocations by drivers with no other handle.
   * @returns the object, or NULL when memory is exhausted.
   */
  NdisAllocateGenericObject(this: RuntimeCore, DriverObject: number, Tag: number, Size: number): PNDIS_GENERIC_OBJECT | NULL {
    const fn = 'NdisAllocateGenericObject';
    u32Arg(fn, 'DriverObject', DriverObject);
    u32Arg(fn, 'Tag', Tag);
    u16Arg(fn, 'Size', Size);
    return (this.wasm.genericAllocate(DriverObject, Tag, Size) >>> 0) as PNDIS_GENERIC_OBJECT | NULL;
  },

  /**
   * Frees a generic object.
   * @throws NdisBugCheck POOL-6 while it owns pools; ALT-GEN when already freed.
   */
  NdisFreeGenericObject(this: RuntimeCore, NdisObject: PNDIS_GENERIC_OBJECT): void {
    const fn = 'NdisFreeGenericObject';
    if (!isU32(NdisObject)) throw badParam(fn, 'NdisObject', NdisObject, 'a PNDIS_GENERIC_OBJECT');
    const e = this.wasm.genericFree(NdisObject) >>> 0;
    if (e !== E.OK) throw this.fail(fn, e, ['NdisObject'], [NdisObject], 'an NDIS_GENERIC_OBJECT', 'ALT-GEN');
  },

  /**
   * Allocates `Length` bytes of (nonpaged) memory under `Tag`. Not zeroed.
   * @param Priority LowPoolPriority, NormalPoolPriority or HighPoolPriority (or their
   *   special-pool variants 8, 9, 24, 25, 40, 41).
   * @returns the address, or NULL when memory is exhausted.
   */
  NdisAllocateMemoryWithTagPriority(this: RuntimeCore, NdisHandle: NDIS_HANDLE, Length: number, Tag: number, Priority: number): PVOID | NULL {
    const fn = 'NdisAllocateMemoryWithTagPriority';
    if (!isU32(NdisHandle)) throw badParam(fn, 'NdisHandle', NdisHandle, 'an NDIS_HANDLE');
    u32Arg(fn, 'Length', Length);
    u32Arg(fn, 'Tag', Tag);
    if (!POOL_PRIORITIES.has(Priority)) throw badParam(fn, 'Priority', Priority, 'an EX_POOL_PRIORITY (LowPoolPriority, NormalPoolPriority, HighPoolPriority)');
    const r = this.wasm.memoryAllocate(NdisHandle, Length, Tag) >>> 0;
    if (r !== 0 && r < E.LIMIT) throw this.fail(fn, r, ['NdisHandle'], [NdisHandle], 'an NDIS handle (protocol handle or generic object)');
    return r as PVOID | NULL;
  },

  /**
   * Frees memory from NdisAllocateMemoryWithTagPriority.
   * @throws NdisBugCheck TAG (0xC2/0x0A) when `Tag` differs from the allocation's; ORIGIN when
   *   the address is not such a block; 0xC2/0x07 when it was already freed.
   */
  NdisFreeMemoryWithTagPriority(this: RuntimeCore, NdisHandle: NDIS_HANDLE, VirtualAddress: PVOID, Tag: number): void {
    const fn = 'NdisFreeMemoryWithTagPriority';
    if (!isU32(NdisHandle)) throw badParam(fn, 'NdisHandle', NdisHandle, 'an NDIS_HANDLE');
    if (!isU32(VirtualAddress)) throw badParam(fn, 'VirtualAddress', VirtualAddress, 'a PVOID');
    u32Arg(fn, 'Tag', Tag);
    const e = this.wasm.memoryFree(NdisHandle, VirtualAddress, Tag) >>> 0;
    if (e !== E.OK) {
      throw this.fail(fn, e, ['NdisHandle', 'VirtualAddress'], [NdisHandle, VirtualAddress, Tag],
        e >>> E.ARG_SHIFT === 0 && e < E.POOL4 ? 'an NDIS handle (protocol handle or generic object)' : 'a block from NdisAllocateMemoryWithTagPriority');
    }
  },

  /**
   * Allocates an MDL describing [VirtualAddress, VirtualAddress + Length), which must lie inside
   * one live allocation of this runtime (nonpaged memory).
   * @returns the MDL, or NULL when memory is exhausted.
   */
  NdisAllocateMdl(this: RuntimeCore, NdisHandle: NDIS_HANDLE, VirtualAddress: PVOID, Length: number): PMDL | NULL {
    const fn = 'NdisAllocateMdl';
    if (!isU32(NdisHandle)) throw badParam(fn, 'NdisHandle', NdisHandle, 'an NDIS_HANDLE');
    if (!isU32(VirtualAddress)) throw badParam(fn, 'VirtualAddress', VirtualAddress, 'a PVOID');
    u32Arg(fn, 'Length', Length);
    const r = this.wasm.mdlAllocate(NdisHandle, VirtualAddress, Length) >>> 0;
    if (r !== 0 && r < E.LIMIT) throw this.fail(fn, r, ['NdisHandle'], [NdisHandle, VirtualAddress, Length], 'an NDIS handle (protocol handle or generic object)');
    return r as PMDL | NULL;
  },

  /** Frees an MDL from NdisAllocateMdl. @throws NdisBugCheck ALT-MDL when already freed. */
  NdisFreeMdl(this: RuntimeCore, Mdl: PMDL): void {
    const fn = 'NdisFreeMdl';
    if (!isU32(Mdl)) throw badParam(fn, 'Mdl', Mdl, 'a PMDL');
    const e = this.wasm.mdlFree(Mdl) >>> 0;
    if (e !== E.OK) throw this.fail(fn, e, ['Mdl'], [Mdl], 'an MDL from NdisAllocateMdl', 'ALT-MDL');
  },

  /** `NDIS_MDL_LINKAGE(Mdl)`: the next MDL in the chain (NULL at the end). */
  NDIS_MDL_LINKAGE(this: RuntimeCore, Mdl: PMDL): PMDL | NULL {
    checkMdl(this, 'NDIS_MDL_LINKAGE', 'Mdl', Mdl);
    return this.rd32(Mdl + MDL.Next) as PMDL | NULL;
  },

  /** `NDIS_MDL_LINKAGE(Mdl) = Next;` Next must be NULL or a live MDL. */
  NDIS_MDL_LINKAGE_SET(this: RuntimeCore, Mdl: PMDL, Next: PMDL | NULL): void {
    checkMdl(this, 'NDIS_MDL_LINKAGE_SET', 'Mdl', Mdl);
    if (Next !== 0) checkMdl(this, 'NDIS_MDL_LINKAGE_SET', 'Next', Next);
    if (Next === Mdl) throw ruleViolation('NDIS_MDL_LINKAGE_SET', 'Next', 'NB-CONS', 'is the MDL itself: the chain would loop', Mdl);
    this.u32[(Mdl + MDL.Next) >>> 2] = Next;
  },

  /** `MmGetMdlByteCount(Mdl)`: bytes the MDL describes. */
  MmGetMdlByteCount(this: RuntimeCore, Mdl: PMDL): number {
    checkMdl(this, 'MmGetMdlByteCount', 'Mdl', Mdl);
    return this.rd32(Mdl + MDL.ByteCount);
  },

  /** `MmGetMdlVirtualAddress(Mdl)`: StartVa + ByteOffset. */
  MmGetMdlVirtualAddress(this: RuntimeCore, Mdl: PMDL): PVOID {
    checkMdl(this, 'MmGetMdlVirtualAddress', 'Mdl', Mdl);
    return ((this.rd32(Mdl + MDL.StartVa) + this.rd32(Mdl + MDL.ByteOffset)) >>> 0) as PVOID;
  },

  /**
   * `MmGetSystemAddressForMdlSafe(Mdl, Priority)`: the data's address (a number; read it with
   * `runtime.bytes`). Mapping never fails here, so the result is never NULL for a live MDL.
   */
  MmGetSystemAddressForMdlSafe(this: RuntimeCore, Mdl: PMDL, Priority: number): PVOID {
    const fn = 'MmGetSystemAddressForMdlSafe';
    checkMdl(this, fn, 'Mdl', Mdl);
    // `NormalPagePriority | MdlMappingNoWrite` is a negative int32 in JS: accept either form.
    const ok = typeof Priority === 'number' && Number.isInteger(Priority) && Priority >= -0x80000000 && Priority <= 0xffffffff;
    const base = ok ? (Priority & ~(MdlMappingNoWrite | MdlMappingNoExecute)) >>> 0 : -1;
    if (!PAGE_PRIORITIES.has(base)) throw badParam(fn, 'Priority', Priority, 'an MM_PAGE_PRIORITY (LowPagePriority, NormalPagePriority, HighPagePriority), optionally | MdlMappingNoWrite / MdlMappingNoExecute');
    if (this.u16[(Mdl + MDL.MdlFlags) >>> 1]! & MDL_MAPPED_TO_SYSTEM_VA) return this.rd32(Mdl + MDL.MappedSystemVa) as PVOID;
    return ((this.rd32(Mdl + MDL.StartVa) + this.rd32(Mdl + MDL.ByteOffset)) >>> 0) as PVOID;
  },
};

export type HandleApi = typeof handleApi;
