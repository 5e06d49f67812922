/**
 * The TypeScript mirror of `assembly/layout.ts` (x86 layouts of DESIGN D4 and the internal
 * pool descriptor). `test/layout.test.ts` checks every value against the Wasm module.
 */

/** NET_BUFFER (x86, 0x58 bytes). */
export const NB = {
  Next: 0x00,
  CurrentMdl: 0x04,
  CurrentMdlOffset: 0x08,
  DataLength: 0x0c,
  MdlChain: 0x10,
  DataOffset: 0x14,
  ChecksumBias: 0x18,
  NdisPoolHandle: 0x1c,
  NdisReserved: 0x20,
  ProtocolReserved: 0x28,
  MiniportReserved: 0x40,
  DataPhysicalAddress: 0x50,
  SIZE: 0x58,
} as const;

/** MDL (x86, 28 bytes). */
export const MDL = {
  Next: 0,
  Size: 4,
  MdlFlags: 6,
  Process: 8,
  MappedSystemVa: 12,
  StartVa: 16,
  ByteCount: 20,
  ByteOffset: 24,
  SIZE: 28,
} as const;

/** One MdlAndData slab object: NET_BUFFER, then its MDL, then the data. */
export const MDAT = { Mdl: 0x58, Data: 0x78 } as const;

/** NDIS_GENERIC_OBJECT (x86, 16 bytes; the caller's bytes follow). */
export const GOBJ = { Header: 0, Caller: 4, CallersCaller: 8, DriverObject: 12, SIZE: 16 } as const;

/** Internal pool descriptor (assembly/layout.ts P_*). */
export const POOL = {
  Kind: 0,
  Tag: 4,
  ObjSize: 8,
  Cap: 12,
  SlabUnits: 24,
  Current: 32,
  SlabCount: 44,
  Outstanding: 48,
  Peak: 52,
  MaxOut: 56,
  Allocs: 64,
  Frees: 72,
  Failures: 80,
  Owner: 88,
  Flags: 92,
  User0: 96,
  User1: 100,
  Units: 108,
  Bytes: 112,
  Id: 120,
  ReqSize: 124,
  SIZE: 128,
} as const;

/** Slab header fields the JS-side checks read. */
export const SLAB = { Pool: 0, FreeTop: 4, Cap: 8, ObjSize: 12, ObjStart: 24, Units: 36, State: 56 } as const;

/**
 * Object cache block (assembly/wcache.ts C_*): the fields a SlabPool's JS hit path reads and
 * writes. The entries (u32[2 * Size] addresses) are followed by as many state-byte addresses.
 */
export const WCACHE = { Pool: 0, Count: 12, Size: 16, Allocs: 24, Moved: 32, Low: 44, Entries: 48 } as const;

/** Refill size of a single-threaded runtime's SlabPool cache (assembly/wcache.ts LCACHE_SIZE). */
export const LCACHE_SIZE = 32;

/** Object state bytes (assembly/layout.ts ST_*) the JS hit path sets. */
export const STATE = { Allocated: 1, Cached: 4 } as const;

/** Offset in the runtime root block of the fault-injection word (assembly/pages.ts R_FAULT). */
export const ROOT_FAULT_OFFSET = 44;

/** Tag set record (assembly/layout.ts TS_*): retired counters of freed pools. */
export const TAG_SET = {
  Kind: 0,
  Tag: 4,
  RetiredAllocs: 192,
  RetiredFrees: 200,
  RetiredFailures: 208,
  RetiredPeak: 216,
  RetiredPools: 220,
} as const;

/** Pool kinds (assembly/layout.ts K_*). */
export const KIND = {
  NB_POOL: 1,
  SLAB_POOL: 2,
  MEM_POOL: 3,
  TAG_SET: 4,
  PROTOCOL: 5,
  NB: 10,
  SLAB_OBJ: 11,
  MEMORY: 12,
  GENERIC: 13,
  MDL: 14,
  NBL_POOL: 6,
  NBL: 15,
  PACKET_POOL: 7,
  BUFFER_POOL: 8,
  PACKET: 16,
  RING: 17,
  HTABLE: 18,
  NIC: 19,
  WCACHE: 20,
} as const;

/** Root pools (assembly/layout.ts ROOT_*). */
export const ROOT = {
  NB_POOLS: 0, SLAB_POOLS: 1, MEM_POOLS: 2, TAG_SETS: 3, PROTOCOLS: 4, MDLS: 5, NBL_POOLS: 6, PACKET_POOLS: 7, BUFFER_POOLS: 8, LCACHES: 9,
} as const;

/** NDIS_PACKET (NDIS 5, x86): Private (0x20 bytes), the reserved union, ProtocolReserved at 0x38. */
export const PACKET = {
  PhysicalCount: 0x00,
  TotalLength: 0x04,
  Head: 0x08,
  Tail: 0x0c,
  Pool: 0x10,
  Count: 0x14,
  Flags: 0x18,
  ValidCounts: 0x1c,
  NdisPacketFlags: 0x1d,
  NdisPacketOobOffset: 0x1e,
  MiniportReserved: 0x20,
  Reserved: 0x30,
  ProtocolReserved: 0x38,
} as const;

/** NDIS_PACKET_OOB_DATA (x86, 32 bytes, 8-aligned after ProtocolReserved). */
export const OOB = { HeaderSize: 16, Status: 28, SIZE: 32 } as const;
/** NDIS_PACKET_EXTENSION: NdisPacketInfo[MaxPerPacketInfo]. */
export const MAX_PER_PACKET_INFO = 12;

/** NET_BUFFER_LIST (DESIGN D4: x64 field order, 32-bit natural alignment, 13 info slots; 0x88 bytes). */
export const NBL = {
  Next: 0x00,
  FirstNetBuffer: 0x04,
  Context: 0x08,
  ParentNetBufferList: 0x0c,
  NdisPoolHandle: 0x10,
  NdisReserved: 0x18,
  ProtocolReserved: 0x20,
  MiniportReserved: 0x30,
  Scratch: 0x38,
  SourceHandle: 0x3c,
  NblFlags: 0x40,
  ChildRefCount: 0x44,
  Flags: 0x48,
  Status: 0x4c,
  NetBufferListInfo: 0x50,
  SIZE: 0x88,
} as const;

/** NET_BUFFER_LIST_CONTEXT (x86): Next, Size (USHORT), Offset (USHORT), ContextData. */
export const NBL_CONTEXT = { Next: 0, Size: 4, Offset: 6, ContextData: 8 } as const;

/** MaxNetBufferListInfo of the emulated layout. */
export const MAX_NET_BUFFER_LIST_INFO = 13;

/** Error codes returned by the Wasm side (assembly/layout.ts E_*). */
export const E = {
  OK: 0,
  NOT_OURS: 1,
  WRONG_KIND: 2,
  MISALIGNED: 3,
  NOT_ALLOCATED: 4,
  WRONG_POOL: 5,
  DUPLICATE: 6,
  /** assembly/wcache.ts: a worker cache whose pool another worker destroyed. */
  CACHE_DEAD: 7,
  ARG_SHIFT: 3,
  POOL4: 40,
  NB_ARGS: 41,
  NB_RANGE: 42,
  POOL5: 43,
  POOL6: 44,
  WRONG_TAG: 45,
  MDL_LOOP: 46,
  BAD_RANGE: 47,
  POOL2: 48,
  POOL3: 49,
  NBL_FREE2: 50,
  NBL_FREE1: 51,
  RESOURCES: 52,
  CTX_RANGE: 53,
  NBL_LOOP: 54,
  NEED_ALLOC: 55,
  STATUS_FAILURE: 56,
  ADV1: 57,
  ADV2: 58,
  GDB1: 59,
  BAD_HANDLER_MDL: 60,
  PKT4: 61,
  BUF_CHAINED: 62,
  PKT1: 63,
  BUSY: 64,
  LIMIT: 4096,
} as const;

/** MDL side word 1: who owns a retreat's MDL (assembly/layout.ts MDLR_*). */
export const MDLR = { DEFAULT: 1, HANDLER: 2 } as const;

export const UNIT_SHIFT = 16;
export const PAGE_SIZE = 65536;
