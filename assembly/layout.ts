// ndis-pool: every struct size and field offset, once.
//
// The library emulates NDIS on 32-bit Windows (DESIGN D4): pointers are 4 bytes (Wasm32),
// MEMORY_ALLOCATION_ALIGNMENT is 8. Offsets of NET_BUFFER are the x86 column of
// NDIS-SPEC §4.1, MDL the x86 layout of §4.4. `test/layout.test.ts` and the as-pect specs pin
// each value. Internal records (pool descriptors, slab headers, protocol records) are drawn
// here too so that `pages.ts`, `slab.ts` and `netbuf.ts` never hard-code an offset.

// ---------------------------------------------------------------------------------------------
// Platform
// ---------------------------------------------------------------------------------------------

/** sizeof(PVOID) on the emulated platform. */
// @ts-ignore: decorator
@inline export const PTR_SIZE: u32 = 4;
/** MEMORY_ALLOCATION_ALIGNMENT on 32-bit Windows. */
// @ts-ignore: decorator
@inline export const MEMORY_ALLOCATION_ALIGNMENT: u32 = 8;
// @ts-ignore: decorator
@inline export const ALIGN_MASK: u32 = MEMORY_ALLOCATION_ALIGNMENT - 1;

// ---------------------------------------------------------------------------------------------
// NET_BUFFER (x86, 0x58 bytes)
//
//   0x00 Next                 NET_BUFFER*
//   0x04 CurrentMdl           MDL*
//   0x08 CurrentMdlOffset     ULONG
//   0x0C DataLength           ULONG (SIZE_T union)
//   0x10 MdlChain             MDL*
//   0x14 DataOffset           ULONG
//   0x18 ChecksumBias         USHORT
//   0x1A Reserved             USHORT
//   0x1C NdisPoolHandle       NDIS_HANDLE
//   0x20 NdisReserved[2]      PVOID
//   0x28 ProtocolReserved[6]  PVOID
//   0x40 MiniportReserved[4]  PVOID
//   0x50 DataPhysicalAddress  PHYSICAL_ADDRESS (8 bytes)
//   0x58 -- size
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const NB_NEXT: u32 = 0x00;
// @ts-ignore: decorator
@inline export const NB_CURRENT_MDL: u32 = 0x04;
// @ts-ignore: decorator
@inline export const NB_CURRENT_MDL_OFFSET: u32 = 0x08;
// @ts-ignore: decorator
@inline export const NB_DATA_LENGTH: u32 = 0x0c;
// @ts-ignore: decorator
@inline export const NB_MDL_CHAIN: u32 = 0x10;
// @ts-ignore: decorator
@inline export const NB_DATA_OFFSET: u32 = 0x14;
// @ts-ignore: decorator
@inline export const NB_CHECKSUM_BIAS: u32 = 0x18;
// @ts-ignore: decorator
@inline export const NB_RESERVED: u32 = 0x1a;
// @ts-ignore: decorator
@inline export const NB_NDIS_POOL_HANDLE: u32 = 0x1c;
// @ts-ignore: decorator
@inline export const NB_NDIS_RESERVED: u32 = 0x20;
// @ts-ignore: decorator
@inline export const NB_PROTOCOL_RESERVED: u32 = 0x28;
// @ts-ignore: decorator
@inline export const NB_MINIPORT_RESERVED: u32 = 0x40;
// @ts-ignore: decorator
@inline export const NB_DATA_PHYSICAL_ADDRESS: u32 = 0x50;
// @ts-ignore: decorator
@inline export const NB_SIZE: u32 = 0x58;

// ---------------------------------------------------------------------------------------------
// MDL (x86, 28 bytes)
//
//   0  Next            MDL*
//   4  Size            CSHORT
//   6  MdlFlags        CSHORT
//   8  Process         PEPROCESS (always NULL here)
//   12 MappedSystemVa  PVOID
//   16 StartVa         PVOID (page aligned)
//   20 ByteCount       ULONG
//   24 ByteOffset      ULONG (offset of the buffer inside its first page)
//   28 -- size
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const MDL_NEXT: u32 = 0;
// @ts-ignore: decorator
@inline export const MDL_SIZE_FIELD: u32 = 4;
// @ts-ignore: decorator
@inline export const MDL_FLAGS: u32 = 6;
// @ts-ignore: decorator
@inline export const MDL_PROCESS: u32 = 8;
// @ts-ignore: decorator
@inline export const MDL_MAPPED_SYSTEM_VA: u32 = 12;
// @ts-ignore: decorator
@inline export const MDL_START_VA: u32 = 16;
// @ts-ignore: decorator
@inline export const MDL_BYTE_COUNT: u32 = 20;
// @ts-ignore: decorator
@inline export const MDL_BYTE_OFFSET: u32 = 24;
// @ts-ignore: decorator
@inline export const MDL_SIZE: u32 = 28;

/** MDL flags (wdm.h subset). */
// @ts-ignore: decorator
@inline export const MDL_MAPPED_TO_SYSTEM_VA: u16 = 0x0001;
// @ts-ignore: decorator
@inline export const MDL_PAGES_LOCKED: u16 = 0x0002;
// @ts-ignore: decorator
@inline export const MDL_SOURCE_IS_NONPAGED_POOL: u16 = 0x0004;
// @ts-ignore: decorator
@inline export const MDL_ALLOCATED_FIXED_SIZE: u16 = 0x0008;
// @ts-ignore: decorator
@inline export const MDL_NETWORK_HEADER: u16 = 0x1000;

// @ts-ignore: decorator
@inline export const PAGE_SHIFT: u32 = 12;
// @ts-ignore: decorator
@inline export const PAGE_MASK: u32 = (1 << PAGE_SHIFT) - 1;

// ---------------------------------------------------------------------------------------------
// MdlAndData object (one slab object of an NB pool with DataSize > 0)
//
//   0x00 NET_BUFFER (0x58)
//   0x58 MDL        (28, padded to 8 -> 0x20)
//   0x78 data       (DataSize bytes)
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const MDAT_MDL: u32 = NB_SIZE;
// @ts-ignore: decorator
@inline export const MDAT_DATA: u32 = (NB_SIZE + MDL_SIZE + ALIGN_MASK) & ~ALIGN_MASK;

// ---------------------------------------------------------------------------------------------
// NDIS_GENERIC_OBJECT (x86, 16 bytes, then the caller's Size bytes)
//
//   0  Header  NDIS_OBJECT_HEADER {Type u8, Revision u8, Size u16}
//   4  Caller          PVOID (NULL here)
//   8  CallersCaller   PVOID (NULL here)
//   12 DriverObject    PDRIVER_OBJECT
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const GOBJ_HEADER: u32 = 0;
// @ts-ignore: decorator
@inline export const GOBJ_CALLER: u32 = 4;
// @ts-ignore: decorator
@inline export const GOBJ_CALLERS_CALLER: u32 = 8;
// @ts-ignore: decorator
@inline export const GOBJ_DRIVER_OBJECT: u32 = 12;
// @ts-ignore: decorator
@inline export const GOBJ_SIZE: u32 = 16;

// ---------------------------------------------------------------------------------------------
// Protocol driver record (the NDIS_HANDLE returned by NdisRegisterProtocolDriver; internal)
//
//   0  ProtocolDriverContext  (caller's context value)
//   4  MajorNdisVersion u8, 5 MinorNdisVersion u8, 6 MajorDriverVersion u8, 7 MinorDriverVersion u8
//   8  Flags
//   12 characteristics id     (index of the JS handler table kept by src/)
//   16 -- size
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const PROT_CONTEXT: u32 = 0;
// @ts-ignore: decorator
@inline export const PROT_MAJOR_NDIS: u32 = 4;
// @ts-ignore: decorator
@inline export const PROT_MINOR_NDIS: u32 = 5;
// @ts-ignore: decorator
@inline export const PROT_MAJOR_DRIVER: u32 = 6;
// @ts-ignore: decorator
@inline export const PROT_MINOR_DRIVER: u32 = 7;
// @ts-ignore: decorator
@inline export const PROT_FLAGS: u32 = 8;
// @ts-ignore: decorator
@inline export const PROT_CHARS_ID: u32 = 12;
// @ts-ignore: decorator
@inline export const PROT_SIZE: u32 = 16;

// ---------------------------------------------------------------------------------------------
// Slab geometry (pages.ts)
//
// Linear memory handed to the allocator is cut into 64 KiB units. A slab is 1..SLAB_MAX_UNITS
// contiguous units (objects larger than that get a slab of their own, sized to fit). The slab
// table maps `address >> UNIT_SHIFT` to the base of the slab covering that unit (0: not a
// slab), which makes every pointer check O(1).
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const UNIT_SHIFT: u32 = 16;
// @ts-ignore: decorator
@inline export const UNIT_SIZE: u32 = 1 << UNIT_SHIFT;
// @ts-ignore: decorator
@inline export const UNIT_MASK: u32 = UNIT_SIZE - 1;
/** 4 GiB of address space / 64 KiB. */
// @ts-ignore: decorator
@inline export const MAX_UNITS: u32 = 65536;
/** Largest slab (in units) used for objects that share a slab. */
// @ts-ignore: decorator
@inline export const SLAB_MAX_UNITS: u32 = 16;
/** Objects up to this size share slabs; larger ones get one slab each. */
// @ts-ignore: decorator
@inline export const SHARED_OBJECT_MAX: u32 = 256 * 1024;
/** Object slots are at least this big (and a multiple of MEMORY_ALLOCATION_ALIGNMENT). */
// @ts-ignore: decorator
@inline export const MIN_OBJECT_SIZE: u32 = 8;

// ---------------------------------------------------------------------------------------------
// Slab header, at the base of every slab (out of band: never inside an object)
//
//   0  pool       descriptor of the owning pool
//   4  freeTop    number of free object indices on the stack
//   8  cap        objects in this slab
//   12 objSize    bytes per object slot
//   16 magic      u64 reciprocal: index = (offset * magic) >> MAGIC_SHIFT
//   24 objStart   address of object 0
//   28 next       next slab in the pool's partial list (0: end)
//   32 prev       previous slab in the partial list
//   36 units      64 KiB units covered
//   40 listed     1 when on the partial list
//   44 auxWords   u32 words of per-object side data
//   48 auxStart   address of the side data (aux[idx * auxWords + w])
//   52 (pad)
//   56 state[cap]      u8 per object: FREE / ALLOCATED (/ QUARANTINED, verifier issue)
//   ..  stack[cap]     u16 free object indices (top at freeTop - 1), 2-aligned
//   ..  aux[cap*auxWords] u32, 4-aligned
//   ..  objects, 8-aligned (16 when the object size is a multiple of 16)
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const SL_POOL: u32 = 0;
// @ts-ignore: decorator
@inline export const SL_FREE_TOP: u32 = 4;
// @ts-ignore: decorator
@inline export const SL_CAP: u32 = 8;
// @ts-ignore: decorator
@inline export const SL_OBJ_SIZE: u32 = 12;
// @ts-ignore: decorator
@inline export const SL_MAGIC: u32 = 16;
// @ts-ignore: decorator
@inline export const SL_OBJ_START: u32 = 24;
// @ts-ignore: decorator
@inline export const SL_NEXT: u32 = 28;
// @ts-ignore: decorator
@inline export const SL_PREV: u32 = 32;
// @ts-ignore: decorator
@inline export const SL_UNITS: u32 = 36;
// @ts-ignore: decorator
@inline export const SL_LISTED: u32 = 40;
// @ts-ignore: decorator
@inline export const SL_AUX_WORDS: u32 = 44;
// @ts-ignore: decorator
@inline export const SL_AUX_START: u32 = 48;
/** Worker-cache block drawing its refills from this slab (wcache.ts), 0 for none. */
// @ts-ignore: decorator
@inline export const SL_CLAIM: u32 = 52;
// @ts-ignore: decorator
@inline export const SL_STATE: u32 = 56;

// @ts-ignore: decorator
@inline export const MAGIC_SHIFT: u64 = 40;

/** Object states (one byte each, in the slab header). */
// @ts-ignore: decorator
@inline export const ST_FREE: u8 = 0;
// @ts-ignore: decorator
@inline export const ST_ALLOCATED: u8 = 1;
// @ts-ignore: decorator
@inline export const ST_FREEING: u8 = 2;
/** Freed but held back from reuse (verifier quarantine); its bytes are POISON. */
// @ts-ignore: decorator
@inline export const ST_QUARANTINED: u8 = 3;
/** Free, but held in a worker's cache (wcache.ts): neither live nor free in its slab. */
// @ts-ignore: decorator
@inline export const ST_CACHED: u8 = 4;
/** The byte freed objects are filled with while in quarantine. */
// @ts-ignore: decorator
@inline export const POISON: u8 = 0xDD;

// ---------------------------------------------------------------------------------------------
// Pool descriptor (128 bytes). Root pools have static descriptors; every other pool's
// descriptor is an object of a root pool, and its address is the pool's handle.
//
//   0   kind         what the pool's objects are (K_*)
//   4   tag          pool tag (poolmon)
//   8   objSize      slot size in bytes (0 for large-object pools: each slab sized to fit)
//   12  cap          objects per slab
//   16  magic        u64 reciprocal of objSize
//   24  slabUnits    units per slab
//   28  objOffset    offset of object 0 from the slab base
//   32  current      slab allocations are taken from
//   36  partial      head of the list of other slabs with free objects
//   40  spare        one empty slab kept for hysteresis (0: none)
//   44  slabCount    slabs owned (current + partial + full + spare)
//   48  outstanding  allocated objects
//   52  peak         highest outstanding
//   56  maxOut       limit on outstanding (0xFFFFFFFF: none)
//   60  auxWords     per-object side words
//   64  allocs       u64
//   72  frees        u64
//   80  failures     u64 (NULL returns)
//   88  owner        handle that created the pool (0: none)
//   92  flags        P_* flags
//   96  user0        kind-specific (NB pool: DataSize)
//   100 user1        kind-specific (NB pool: NET_BUFFER_POOL_PARAMETERS.Flags)
//   104 user2
//   108 units        64 KiB units held by the pool's slabs
//   112 bytes        u64 bytes in use (slot bytes of live objects)
//   120 id           creation serial (stable ordering for stats)
//   124 reqSize      size the caller asked for (objSize is it rounded up)
//   128 -- size
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const P_KIND: u32 = 0;
// @ts-ignore: decorator
@inline export const P_TAG: u32 = 4;
// @ts-ignore: decorator
@inline export const P_OBJ_SIZE: u32 = 8;
// @ts-ignore: decorator
@inline export const P_CAP: u32 = 12;
// @ts-ignore: decorator
@inline export const P_MAGIC: u32 = 16;
// @ts-ignore: decorator
@inline export const P_SLAB_UNITS: u32 = 24;
// @ts-ignore: decorator
@inline export const P_OBJ_OFFSET: u32 = 28;
// @ts-ignore: decorator
@inline export const P_CURRENT: u32 = 32;
// @ts-ignore: decorator
@inline export const P_PARTIAL: u32 = 36;
// @ts-ignore: decorator
@inline export const P_SPARE: u32 = 40;
// @ts-ignore: decorator
@inline export const P_SLAB_COUNT: u32 = 44;
// @ts-ignore: decorator
@inline export const P_OUTSTANDING: u32 = 48;
// @ts-ignore: decorator
@inline export const P_PEAK: u32 = 52;
// @ts-ignore: decorator
@inline export const P_MAX_OUT: u32 = 56;
// @ts-ignore: decorator
@inline export const P_AUX_WORDS: u32 = 60;
// @ts-ignore: decorator
@inline export const P_ALLOCS: u32 = 64;
// @ts-ignore: decorator
@inline export const P_FREES: u32 = 72;
// @ts-ignore: decorator
@inline export const P_FAILURES: u32 = 80;
// @ts-ignore: decorator
@inline export const P_OWNER: u32 = 88;
// @ts-ignore: decorator
@inline export const P_FLAGS: u32 = 92;
// @ts-ignore: decorator
@inline export const P_USER0: u32 = 96;
// @ts-ignore: decorator
@inline export const P_USER1: u32 = 100;
// @ts-ignore: decorator
@inline export const P_USER2: u32 = 104;
// @ts-ignore: decorator
@inline export const P_UNITS: u32 = 108;
// @ts-ignore: decorator
@inline export const P_BYTES: u32 = 112;
// @ts-ignore: decorator
@inline export const P_ID: u32 = 120;
// @ts-ignore: decorator
@inline export const P_REQ_SIZE: u32 = 124;
// @ts-ignore: decorator
@inline export const POOL_DESC_SIZE: u32 = 128;

/** Pool flags. */
// @ts-ignore: decorator
@inline export const PF_ROOT: u32 = 1;
// @ts-ignore: decorator
@inline export const PF_LARGE: u32 = 2;
// @ts-ignore: decorator
@inline export const PF_INTERNAL: u32 = 4;
/** Never release this pool's empty slabs (room reserved up front: NDIS 5 packet pools). */
// @ts-ignore: decorator
@inline export const PF_KEEP: u32 = 8;
/** Freed objects are poisoned and quarantined before reuse (verifier mode, VERIFY pools). */
// @ts-ignore: decorator
@inline export const PF_QUAR: u32 = 16;
/**
 * A SlabPool with a single-threaded runtime's cache (assembly/wcache.ts, worker 0), whose
 * address is in P_USER2: its objects count as outstanding, but not toward the peak.
 */
// @ts-ignore: decorator
@inline export const PF_LCACHE: u32 = 32;

// ---------------------------------------------------------------------------------------------
// Pool kinds: what a pool's objects are. Handle validation checks the kind of the pool that
// owns the pointer, so an NB passed where an MDL is expected is caught in O(1).
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const K_NB_POOL: u32 = 1;      // objects: NB pool descriptors (NB pool handles)
// @ts-ignore: decorator
@inline export const K_SLAB_POOL: u32 = 2;    // objects: SlabPool descriptors
// @ts-ignore: decorator
@inline export const K_MEM_POOL: u32 = 3;     // objects: size-class pool descriptors (internal)
// @ts-ignore: decorator
@inline export const K_TAG_SET: u32 = 4;      // objects: tag-set records (internal)
// @ts-ignore: decorator
@inline export const K_PROTOCOL: u32 = 5;     // objects: protocol driver records (handles)
// @ts-ignore: decorator
@inline export const K_NB: u32 = 10;          // objects: NET_BUFFERs (maybe with MDL + data)
// @ts-ignore: decorator
@inline export const K_SLAB_OBJ: u32 = 11;    // objects: idiomatic SlabPool objects
// @ts-ignore: decorator
@inline export const K_MEMORY: u32 = 12;      // objects: NdisAllocateMemoryWithTagPriority blocks
// @ts-ignore: decorator
@inline export const K_GENERIC: u32 = 13;     // objects: NDIS_GENERIC_OBJECTs (handles)
// @ts-ignore: decorator
@inline export const K_MDL: u32 = 14;         // objects: MDLs from NdisAllocateMdl
// @ts-ignore: decorator
@inline export const K_NBL_POOL: u32 = 6;     // objects: NBL pool descriptors (NBL pool handles)
// @ts-ignore: decorator
@inline export const K_NBL: u32 = 15;         // objects: NET_BUFFER_LISTs (+ context, NB, MDL, data)
// @ts-ignore: decorator
@inline export const K_PACKET_POOL: u32 = 7;  // objects: NDIS 5 packet pool descriptors (handles)
// @ts-ignore: decorator
@inline export const K_BUFFER_POOL: u32 = 8;  // objects: NDIS 5 buffer pool records (handles)
// @ts-ignore: decorator
@inline export const K_PACKET: u32 = 16;      // objects: NDIS_PACKET descriptors
// @ts-ignore: decorator
@inline export const K_RING: u32 = 17;        // objects: descriptor rings (tagged memory)
// @ts-ignore: decorator
@inline export const K_HTABLE: u32 = 18;      // objects: SlabPool handle tables (gentable.ts)
// @ts-ignore: decorator
@inline export const K_NIC: u32 = 19;         // objects: virtual NIC and hub records (nic.ts)
// @ts-ignore: decorator
@inline export const K_WCACHE: u32 = 20;      // objects: per-worker SlabPool caches (wcache.ts)

// ---------------------------------------------------------------------------------------------
// Tag set (one per (kind, tag) of variable-size memory; internal)
//
//   0  kind   K_MEMORY or K_GENERIC
//   4  tag
//   8  next   next set (singly linked from a global head)
//   12 large  pool of objects above the largest class (one slab each)
//   16 class[N_CLASSES] pool descriptors, created on first use
//  192 retired allocs   u64 \
//  200 retired frees    u64  | counters of destroyed pools of this (kind, tag), so poolmon
//  208 retired failures u64  | keeps a tag's history after its pools are freed
//  216 retired peak     u32  | (highest peak of a destroyed pool)
//  220 retired pools    u32 /
//  224 -- size
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const TS_KIND: u32 = 0;
// @ts-ignore: decorator
@inline export const TS_TAG: u32 = 4;
// @ts-ignore: decorator
@inline export const TS_NEXT: u32 = 8;
// @ts-ignore: decorator
@inline export const TS_LARGE: u32 = 12;
// @ts-ignore: decorator
@inline export const TS_CLASS: u32 = 16;
/** Size classes: 4 per power of two from 16 B to 32 KiB. */
// @ts-ignore: decorator
@inline export const N_CLASSES: u32 = 43;
// @ts-ignore: decorator
@inline export const TS_R_ALLOCS: u32 = 192;
// @ts-ignore: decorator
@inline export const TS_R_FREES: u32 = 200;
// @ts-ignore: decorator
@inline export const TS_R_FAILURES: u32 = 208;
// @ts-ignore: decorator
@inline export const TS_R_PEAK: u32 = 216;
// @ts-ignore: decorator
@inline export const TS_R_POOLS: u32 = 220;
// @ts-ignore: decorator
@inline export const TAG_SET_SIZE: u32 = 224;
// @ts-ignore: decorator
@inline export const LARGEST_CLASS: u32 = 32768;

// ---------------------------------------------------------------------------------------------
// Status codes returned by the Wasm checks (0 = fine). src/errors.ts maps each to a bug check.
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const E_OK: u32 = 0;
/** The address is not inside any slab: never allocated by this runtime. */
// @ts-ignore: decorator
@inline export const E_NOT_OURS: u32 = 1;
/** The address is in a slab of a pool of another kind (an NB where an MDL is expected…). */
// @ts-ignore: decorator
@inline export const E_WRONG_KIND: u32 = 2;
/** The address is in a slab but not at the start of an object. */
// @ts-ignore: decorator
@inline export const E_MISALIGNED: u32 = 3;
/** The object is not allocated (already freed, or never handed out). */
// @ts-ignore: decorator
@inline export const E_NOT_ALLOCATED: u32 = 4;
/** The object belongs to another pool of the right kind. */
// @ts-ignore: decorator
@inline export const E_WRONG_POOL: u32 = 5;
/** The same object appears twice in one bulk free. */
// @ts-ignore: decorator
@inline export const E_DUPLICATE: u32 = 6;
/** Worker-cache path (wcache.ts): the cache's pool was destroyed by another worker. */
// @ts-ignore: decorator
@inline export const E_CACHE_DEAD: u32 = 7;
/** Errors at or above this value are successful pointers (every slab address is >= 64 KiB). */
// @ts-ignore: decorator
@inline export const E_LIMIT: u32 = 4096;

/**
 * Errors about a specific argument are `(argument index << 3) | E_*` (argument 0 = first).
 * Rule errors use the codes below. Every error code is below E_LIMIT.
 */
// @ts-ignore: decorator
@inline export const ARG_SHIFT: u32 = 3;
/** POOL-4: MdlAndData on a DataSize-0 pool, or NdisAllocateNetBuffer on a DataSize pool. */
// @ts-ignore: decorator
@inline export const E_POOL4: u32 = 40;
/** NB-ARGS: MdlChain NULL with a non-zero DataOffset or DataLength. */
// @ts-ignore: decorator
@inline export const E_NB_ARGS: u32 = 41;
/** NB-CONS: DataOffset + DataLength exceeds the bytes the MDL chain describes. */
// @ts-ignore: decorator
@inline export const E_NB_RANGE: u32 = 42;
/** POOL-5: a pool freed with objects outstanding (gErrDetail = count). */
// @ts-ignore: decorator
@inline export const E_POOL5: u32 = 43;
/** POOL-6: a handle freed while it still owns pools (gErrDetail = count). */
// @ts-ignore: decorator
@inline export const E_POOL6: u32 = 44;
/** Memory freed with a tag other than its allocation's (gErrDetail = the allocation's tag). */
// @ts-ignore: decorator
@inline export const E_WRONG_TAG: u32 = 45;
/** An MDL chain that loops back on itself. */
// @ts-ignore: decorator
@inline export const E_MDL_LOOP: u32 = 46;
/** A buffer range that is not inside one live allocation. */
// @ts-ignore: decorator
@inline export const E_BAD_RANGE: u32 = 47;
/** POOL-2: a ProtocolId above NDIS_PROTOCOL_ID_MAX, or non-zero from a caller that is not a protocol. */
// @ts-ignore: decorator
@inline export const E_POOL2: u32 = 48;
/** POOL-3: NdisAllocateNetBufferAndNetBufferList on a pool without fAllocateNetBuffer or with DataSize. */
// @ts-ignore: decorator
@inline export const E_POOL3: u32 = 49;
/** NBL-FREE-2: a context added by NdisAllocateNetBufferListContext is still there, or the caller
 *  frees context space that came with the NBL's allocation. */
// @ts-ignore: decorator
@inline export const E_NBL_FREE2: u32 = 50;
/** NBL-FREE-1: a NET_BUFFER preallocated with an NBL passed to NdisFreeNetBuffer. */
// @ts-ignore: decorator
@inline export const E_NBL_FREE1: u32 = 51;
/** Not an error: an allocation inside the call failed (NDIS_STATUS_RESOURCES). */
// @ts-ignore: decorator
@inline export const E_RESOURCES: u32 = 52;
/** CTX-ALIGN / context underflow: freeing more context space than the NBL has in use. */
// @ts-ignore: decorator
@inline export const E_CTX_RANGE: u32 = 53;
/** A Next-linked NBL chain that loops back on itself. */
// @ts-ignore: decorator
@inline export const E_NBL_LOOP: u32 = 54;

// ---------------------------------------------------------------------------------------------
// Root pools (static descriptors in the runtime root block)
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const ROOT_NB_POOLS: u32 = 0;
// @ts-ignore: decorator
@inline export const ROOT_SLAB_POOLS: u32 = 1;
// @ts-ignore: decorator
@inline export const ROOT_MEM_POOLS: u32 = 2;
// @ts-ignore: decorator
@inline export const ROOT_TAG_SETS: u32 = 3;
// @ts-ignore: decorator
@inline export const ROOT_PROTOCOLS: u32 = 4;
// @ts-ignore: decorator
@inline export const ROOT_MDLS: u32 = 5;
// @ts-ignore: decorator
@inline export const ROOT_NBL_POOLS: u32 = 6;
// @ts-ignore: decorator
@inline export const ROOT_PACKET_POOLS: u32 = 7;
// @ts-ignore: decorator
@inline export const ROOT_BUFFER_POOLS: u32 = 8;
// @ts-ignore: decorator
/** Cache blocks of single-threaded runtimes' SlabPools (assembly/wcache.ts, worker 0). */
// @ts-ignore: decorator
@inline export const ROOT_LCACHES: u32 = 9;
// @ts-ignore: decorator
@inline export const ROOT_COUNT: u32 = 10;
/** Pool tag of the runtime's MDL pool ('Mdl ' in memory order). */
// @ts-ignore: decorator
@inline export const TAG_MDL: u32 = 0x206c644d;
/** Pool tag of internal records ('Ndis'). */
// @ts-ignore: decorator
@inline export const TAG_NDIS: u32 = 0x7369644e;

// ---------------------------------------------------------------------------------------------
// NET_BUFFER_LIST (DESIGN D4: the x64 field order with 32-bit natural alignment, 13 info slots;
// NdisReserved is MEMORY_ALLOCATION_ALIGNMENT-aligned as in the header)
//
//   0x00 Next                  NET_BUFFER_LIST*
//   0x04 FirstNetBuffer        NET_BUFFER*
//   0x08 Context               NET_BUFFER_LIST_CONTEXT*
//   0x0C ParentNetBufferList   NET_BUFFER_LIST*
//   0x10 NdisPoolHandle        NDIS_HANDLE
//   0x14 (pad)
//   0x18 NdisReserved[2]       PVOID
//   0x20 ProtocolReserved[4]   PVOID
//   0x30 MiniportReserved[2]   PVOID
//   0x38 Scratch               PVOID
//   0x3C SourceHandle          NDIS_HANDLE
//   0x40 NblFlags              ULONG
//   0x44 ChildRefCount         LONG
//   0x48 Flags                 ULONG
//   0x4C Status                NDIS_STATUS
//   0x50 NetBufferListInfo[13] PVOID
//   0x84 (pad) -- size 0x88
//
// NET_BUFFER_LIST_CONTEXT (x86): 0 Next, 4 Size (USHORT), 6 Offset (USHORT), 8 ContextData[]
//
// One NBL slab object: NBL, then (pool ContextSize > 0) its context block of 8 + ContextSize,
// then (fAllocateNetBuffer) the NET_BUFFER, then (DataSize > 0) its MDL (padded to 0x20) and data.
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const NBL_NEXT: u32 = 0x00;
// @ts-ignore: decorator
@inline export const NBL_FIRST_NB: u32 = 0x04;
// @ts-ignore: decorator
@inline export const NBL_CONTEXT: u32 = 0x08;
// @ts-ignore: decorator
@inline export const NBL_PARENT: u32 = 0x0c;
// @ts-ignore: decorator
@inline export const NBL_NDIS_POOL_HANDLE: u32 = 0x10;
// @ts-ignore: decorator
@inline export const NBL_NDIS_RESERVED: u32 = 0x18;
// @ts-ignore: decorator
@inline export const NBL_PROTOCOL_RESERVED: u32 = 0x20;
// @ts-ignore: decorator
@inline export const NBL_MINIPORT_RESERVED: u32 = 0x30;
// @ts-ignore: decorator
@inline export const NBL_SCRATCH: u32 = 0x38;
// @ts-ignore: decorator
@inline export const NBL_SOURCE_HANDLE: u32 = 0x3c;
// @ts-ignore: decorator
@inline export const NBL_NBL_FLAGS: u32 = 0x40;
// @ts-ignore: decorator
@inline export const NBL_CHILD_REF_COUNT: u32 = 0x44;
// @ts-ignore: decorator
@inline export const NBL_FLAGS: u32 = 0x48;
// @ts-ignore: decorator
@inline export const NBL_STATUS: u32 = 0x4c;
// @ts-ignore: decorator
@inline export const NBL_INFO: u32 = 0x50;
/** MaxNetBufferListInfo in the NDIS 6.0 (Vista) layout the library emulates. */
// @ts-ignore: decorator
@inline export const NBL_INFO_COUNT: u32 = 13;
/** NetBufferListInfo index of the protocol ID (NetBufferListProtocolId = NetBufferListFrameType). */
// @ts-ignore: decorator
@inline export const NBL_INFO_PROTOCOL_ID: u32 = 7;
// @ts-ignore: decorator
@inline export const NBL_SIZE: u32 = 0x88;

// @ts-ignore: decorator
@inline export const NBLC_NEXT: u32 = 0;
// @ts-ignore: decorator
@inline export const NBLC_SIZE: u32 = 4;
// @ts-ignore: decorator
@inline export const NBLC_OFFSET: u32 = 6;
// @ts-ignore: decorator
@inline export const NBLC_DATA: u32 = 8;

// ---------------------------------------------------------------------------------------------
// Retreat/advance (NDIS-SPEC §5). MDLs carry three side words (out of band): [0] the handle that
// allocated them, [1] MDLR_* flags, [2] the data buffer of a default-allocated retreat MDL.
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const MDL_AUX_WORDS: u32 = 4;
/** The MDL (and its buffer) was allocated by a retreat with the default allocator. */
// @ts-ignore: decorator
@inline export const MDLR_DEFAULT: u32 = 1;
/** The MDL came from a retreat's NET_BUFFER_ALLOCATE_MDL handler. */
// @ts-ignore: decorator
@inline export const MDLR_HANDLER: u32 = 2;
/** Pool tag of the default retreat allocator's buffers ('NdRt' as poolmon shows it). */
// @ts-ignore: decorator
@inline export const TAG_RETREAT: u32 = 0x7452644e;
/** Retreat needs an allocation (not an error: src/ runs the handler or the default allocator). */
// @ts-ignore: decorator
@inline export const E_NEED_ALLOC: u32 = 55;
/** NDIS_STATUS_FAILURE (not a bug check): e.g. DataLength + delta overflows 32 bits. */
// @ts-ignore: decorator
@inline export const E_STATUS_FAILURE: u32 = 56;
/** ADV-1: an advance by more than DataLength. */
// @ts-ignore: decorator
@inline export const E_ADV1: u32 = 57;
/** ADV-2: a retreat-allocated MDL freed through the wrong allocator (or by NdisFreeMdl). */
// @ts-ignore: decorator
@inline export const E_ADV2: u32 = 58;
/** GDB-1: NdisGetDataBuffer's Storage does not hold BytesNeeded bytes of live memory. */
// @ts-ignore: decorator
@inline export const E_GDB1: u32 = 59;
/** A handler's MDL that is unusable for a retreat (linked, or already retreat-owned). */
// @ts-ignore: decorator
@inline export const E_BAD_HANDLER_MDL: u32 = 60;

// ---------------------------------------------------------------------------------------------
// NDIS_PACKET (NDIS 5, x86; NDIS-SPEC §4.5, DESIGN D4)
//
//   0x00 Private.PhysicalCount   UINT
//   0x04 Private.TotalLength     UINT
//   0x08 Private.Head            NDIS_BUFFER*
//   0x0C Private.Tail            NDIS_BUFFER*
//   0x10 Private.Pool            NDIS_HANDLE
//   0x14 Private.Count           UINT
//   0x18 Private.Flags           ULONG (low nibble: protocol ID)
//   0x1C Private.ValidCounts     BOOLEAN
//   0x1D Private.NdisPacketFlags UCHAR
//   0x1E Private.NdisPacketOobOffset USHORT
//   0x20 MiniportReserved[2] / MiniportReservedEx[3] / MacReserved[4] (union, 16 bytes)
//   0x30 Reserved[2]
//   0x38 ProtocolReserved[ProtocolReservedLength]
//   then, 8-aligned, NDIS_PACKET_OOB_DATA (32 bytes):
//     0 TimeToSend u64, 8 TimeReceived u64, 16 HeaderSize, 20 SizeMediaSpecificInfo,
//     24 MediaSpecificInformation, 28 Status
//   then NDIS_PACKET_EXTENSION: NdisPacketInfo[MaxPerPacketInfo = 12] (48 bytes)
// NdisPacketSize(len) = OOB offset + 32 + 48.
// ---------------------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export const PK_PHYSICAL_COUNT: u32 = 0x00;
// @ts-ignore: decorator
@inline export const PK_TOTAL_LENGTH: u32 = 0x04;
// @ts-ignore: decorator
@inline export const PK_HEAD: u32 = 0x08;
// @ts-ignore: decorator
@inline export const PK_TAIL: u32 = 0x0c;
// @ts-ignore: decorator
@inline export const PK_POOL: u32 = 0x10;
// @ts-ignore: decorator
@inline export const PK_COUNT: u32 = 0x14;
// @ts-ignore: decorator
@inline export const PK_FLAGS: u32 = 0x18;
// @ts-ignore: decorator
@inline export const PK_VALID_COUNTS: u32 = 0x1c;
// @ts-ignore: decorator
@inline export const PK_PACKET_FLAGS: u32 = 0x1d;
// @ts-ignore: decorator
@inline export const PK_OOB_OFFSET: u32 = 0x1e;
// @ts-ignore: decorator
@inline export const PK_MINIPORT_RESERVED: u32 = 0x20;
// @ts-ignore: decorator
@inline export const PK_RESERVED: u32 = 0x30;
// @ts-ignore: decorator
@inline export const PK_PROTOCOL_RESERVED: u32 = 0x38;
// @ts-ignore: decorator
@inline export const OOB_HEADER_SIZE: u32 = 16;
// @ts-ignore: decorator
@inline export const OOB_STATUS: u32 = 28;
// @ts-ignore: decorator
@inline export const OOB_SIZE: u32 = 32;
// @ts-ignore: decorator
@inline export const MAX_PER_PACKET_INFO: u32 = 12;
// @ts-ignore: decorator
@inline export const PACKET_EXTENSION_SIZE: u32 = MAX_PER_PACKET_INFO * 4;
/** fPACKET_ALLOCATED_BY_NDIS in Private.NdisPacketFlags. */
// @ts-ignore: decorator
@inline export const PACKET_ALLOCATED_BY_NDIS: u8 = 0x80;
/** The NDIS 5 descriptor ceiling (NdisAllocatePacketPoolEx). */
// @ts-ignore: decorator
@inline export const PACKET_POOL_MAX: u32 = 0xFFFF;
/** PKT-4: NdisFreePacketPool with packets outstanding (detail = count). */
// @ts-ignore: decorator
@inline export const E_PKT4: u32 = 61;
/** A buffer freed (or chained again) while it is chained to a live packet (detail = packet). */
// @ts-ignore: decorator
@inline export const E_BUF_CHAINED: u32 = 62;
/** PKT-1: a packet whose Private.Pool no longer names the pool it came from. */
// @ts-ignore: decorator
@inline export const E_PKT1: u32 = 63;
/** A hub with NICs attached, a NIC on a hub or holding NBLs, a full RCB ring (detail: count). */
// @ts-ignore: decorator
@inline export const E_BUSY: u32 = 64;
/** MDL side word 3: the packet a buffer is chained to (0: none). */
// @ts-ignore: decorator
@inline export const MDL_AUX_PACKET: u32 = 3;

/** Pool tag of descriptor rings ('Ring' as poolmon shows it). */
// @ts-ignore: decorator
@inline export const TAG_RING: u32 = 0x676e6952;
/** 'WCch': per-worker caches. */
// @ts-ignore: decorator
@inline export const TAG_WCACHE: u32 = 0x68634357;
