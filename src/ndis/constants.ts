/**
 * NDIS constants (NDIS-SPEC §1) and the pointer types of DESIGN D1: every NDIS pointer or
 * handle is a plain `number` (a byte offset into the runtime's Wasm memory; NULL is 0), typed
 * with a brand so that an NB cannot be passed where an MDL is expected without a cast.
 */

declare const brand: unique symbol;
/** A number tagged with the C type it stands for. Nothing is boxed at run time. */
export type Brand<B extends string> = number & { readonly [brand]: B };

/** NDIS_HANDLE: pool handles, protocol handles, generic objects. */
export type NDIS_HANDLE = Brand<'NDIS_HANDLE'>;
/** PNET_BUFFER. */
export type PNET_BUFFER = Brand<'NET_BUFFER'>;
/** PMDL (NDIS_BUFFER is the same type). */
export type PMDL = Brand<'MDL'>;
/** PNDIS_GENERIC_OBJECT (usable wherever an NDIS_HANDLE is). */
export type PNDIS_GENERIC_OBJECT = NDIS_HANDLE & Brand<'NDIS_HANDLE'>;
/** PVOID: an address in the runtime's memory. */
export type PVOID = Brand<'PVOID'>;
/** NULL. */
export type NULL = 0;
/** NDIS_STATUS (a signed 32-bit value, as in C). */
export type NDIS_STATUS = number;

/** C out-parameter (DESIGN D3): `const h = { value: 0 }; f(…, h)` then read `h.value`. */
export interface Out<T> {
  value: T;
}

// -- §1.1 status codes (signed i32, as NDIS_STATUS is) ------------------------------------------
export const NDIS_STATUS_SUCCESS = 0x00000000;
export const NDIS_STATUS_PENDING = 0x00000103;
export const NDIS_STATUS_FAILURE = 0xc0000001 | 0;
export const NDIS_STATUS_RESOURCES = 0xc000009a | 0;
export const NDIS_STATUS_INVALID_PARAMETER = 0xc000000d | 0;
export const NDIS_STATUS_NOT_SUPPORTED = 0xc00000bb | 0;
export const NDIS_STATUS_BAD_VERSION = 0xc0010004 | 0;
export const NDIS_STATUS_BAD_CHARACTERISTICS = 0xc0010005 | 0;

// -- §1.2 object header, revisions and sizes -----------------------------------------------------
export const NDIS_OBJECT_TYPE_DEFAULT = 0x80;
export const NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS = 0x95;

export const NET_BUFFER_POOL_PARAMETERS_REVISION_1 = 1;
export const NET_BUFFER_POOL_PARAMETERS_REVISION_2 = 2;
/** RTL_SIZEOF_THROUGH_FIELD(NET_BUFFER_POOL_PARAMETERS, DataSize). */
export const NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1 = 12;
/** Through `Flags`. */
export const NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_2 = 16;
export const NET_BUFFER_POOL_FLAG_VERIFY = 0x00000001;

/**
 * NDIS_PROTOCOL_DRIVER_CHARACTERISTICS revisions. Revision 2 (NDIS 6.30) adds
 * DirectOidRequestCompleteHandler.
 */
export const NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1 = 1;
export const NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2 = 2;
/**
 * 32-bit layout: Header 4, four UCHAR versions 4, Flags 4, NDIS_STRING Name 8, eleven handler
 * pointers 44 = 64 bytes through SendNetBufferListsCompleteHandler.
 */
export const NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1 = 64;
/** Revision 1 + DirectOidRequestCompleteHandler (4). */
export const NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2 = 68;

// -- §1.3 protocol IDs, reserved sizes, alignment ------------------------------------------------
export const NDIS_PROTOCOL_ID_DEFAULT = 0x00;
export const NDIS_PROTOCOL_ID_TCP_IP = 0x02;
export const NDIS_PROTOCOL_ID_IPX = 0x06;
export const NDIS_PROTOCOL_ID_NBF = 0x07;
export const NDIS_PROTOCOL_ID_MAX = 0x0f;
export const NDIS_PROTOCOL_ID_MASK = 0x0f;
/** 32-bit Windows. */
export const MEMORY_ALLOCATION_ALIGNMENT = 8;
export const PROTOCOL_RESERVED_SIZE_IN_PACKET = 16;

// -- Pool priorities (EX_POOL_PRIORITY) and MDL mapping priorities (MM_PAGE_PRIORITY) ------------
export const LowPoolPriority = 0;
export const NormalPoolPriority = 16;
export const HighPoolPriority = 32;
export const LowPagePriority = 0;
export const NormalPagePriority = 16;
export const HighPagePriority = 32;
/** Flags that may be OR-ed into MmGetSystemAddressForMdlSafe's Priority. */
export const MdlMappingNoWrite = 0x80000000;
export const MdlMappingNoExecute = 0x40000000;

// -- MDL flags (wdm.h subset) --------------------------------------------------------------------
export const MDL_MAPPED_TO_SYSTEM_VA = 0x0001;
export const MDL_PAGES_LOCKED = 0x0002;
export const MDL_SOURCE_IS_NONPAGED_POOL = 0x0004;
export const MDL_ALLOCATED_FIXED_SIZE = 0x0008;
export const MDL_PARTIAL = 0x0010;
export const MDL_NETWORK_HEADER = 0x1000;

/** NDIS_OBJECT_HEADER as a plain object. */
export interface NDIS_OBJECT_HEADER {
  Type: number;
  Revision: number;
  Size: number;
}

/** NET_BUFFER_POOL_PARAMETERS (Flags from revision 2). */
export interface NET_BUFFER_POOL_PARAMETERS {
  Header: NDIS_OBJECT_HEADER;
  PoolTag: number;
  DataSize: number;
  Flags?: number;
}

/**
 * Builds a pool tag the way a C multi-character constant does: `POOL_TAG('looP')` is
 * 0x6C6F6F50, which poolmon (memory order, low byte first) shows as "Pool". Up to four
 * printable ASCII characters.
 */
export function POOL_TAG(chars: string): number {
  if (typeof chars !== 'string' || chars.length < 1 || chars.length > 4) {
    throw new TypeError(`POOL_TAG: expected 1 to 4 characters, got ${JSON.stringify(chars)}`);
  }
  let v = 0;
  for (let i = 0; i < chars.length; i++) {
    const c = chars.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) throw new TypeError(`POOL_TAG: character ${i} is not printable ASCII`);
    v = ((v << 8) | c) >>> 0;
  }
  return v;
}

/** The tag as poolmon shows it: its four bytes in memory (little-endian) order. */
export function tagToString(tag: number): string {
  let s = '';
  for (let i = 0; i < 4; i++) {
    const c = (tag >>> (8 * i)) & 0xff;
    s += c >= 0x20 && c <= 0x7e ? String.fromCharCode(c) : c === 0 ? ' ' : '?';
  }
  return s;
}
