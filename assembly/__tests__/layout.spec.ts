// Pins the x86 NET_BUFFER / MDL layout (NDIS-SPEC §4.1, §4.4; DESIGN D4) and the MdlAndData
// object layout, both as compile-time constants and through the exported `layout()` table
// that src/ uses to check its TypeScript mirror.
import {
  PTR_SIZE, MEMORY_ALLOCATION_ALIGNMENT,
  NB_NEXT, NB_CURRENT_MDL, NB_CURRENT_MDL_OFFSET, NB_DATA_LENGTH, NB_MDL_CHAIN, NB_DATA_OFFSET,
  NB_CHECKSUM_BIAS, NB_RESERVED, NB_NDIS_POOL_HANDLE, NB_NDIS_RESERVED, NB_PROTOCOL_RESERVED,
  NB_MINIPORT_RESERVED, NB_DATA_PHYSICAL_ADDRESS, NB_SIZE,
  MDL_NEXT, MDL_SIZE_FIELD, MDL_FLAGS, MDL_PROCESS, MDL_MAPPED_SYSTEM_VA, MDL_START_VA,
  MDL_BYTE_COUNT, MDL_BYTE_OFFSET, MDL_SIZE,
  MDAT_MDL, MDAT_DATA, GOBJ_SIZE, POOL_DESC_SIZE,
  P_KIND, P_TAG, P_OBJ_SIZE, P_CAP, P_MAGIC, P_SLAB_UNITS, P_OBJ_OFFSET, P_CURRENT, P_PARTIAL,
  P_SPARE, P_SLAB_COUNT, P_OUTSTANDING, P_PEAK, P_MAX_OUT, P_AUX_WORDS, P_ALLOCS, P_FREES,
  P_FAILURES, P_OWNER, P_FLAGS, P_USER0, P_USER1, P_USER2, P_UNITS, P_BYTES, P_ID, P_REQ_SIZE,
  E_OK, E_NOT_OURS, E_WRONG_KIND, E_MISALIGNED, E_NOT_ALLOCATED, E_WRONG_POOL, E_DUPLICATE,
  E_LIMIT, E_POOL4, E_NB_ARGS, E_NB_RANGE, E_POOL5, E_POOL6, E_WRONG_TAG, E_MDL_LOOP, E_BAD_RANGE,
  ARG_SHIFT, UNIT_SHIFT, UNIT_SIZE,
} from "../layout";
import { layout } from "../index";

describe("NET_BUFFER (x86)", () => {
  it("has 4-byte pointers and 8-byte allocation alignment", () => {
    expect<u32>(PTR_SIZE).toBe(4);
    expect<u32>(MEMORY_ALLOCATION_ALIGNMENT).toBe(8);
  });

  it("pins every field offset", () => {
    expect<u32>(NB_NEXT).toBe(0x00);
    expect<u32>(NB_CURRENT_MDL).toBe(0x04);
    expect<u32>(NB_CURRENT_MDL_OFFSET).toBe(0x08);
    expect<u32>(NB_DATA_LENGTH).toBe(0x0c);
    expect<u32>(NB_MDL_CHAIN).toBe(0x10);
    expect<u32>(NB_DATA_OFFSET).toBe(0x14);
    expect<u32>(NB_CHECKSUM_BIAS).toBe(0x18);
    expect<u32>(NB_RESERVED).toBe(0x1a);
    expect<u32>(NB_NDIS_POOL_HANDLE).toBe(0x1c);
    expect<u32>(NB_NDIS_RESERVED).toBe(0x20);
    expect<u32>(NB_PROTOCOL_RESERVED).toBe(0x28);
    expect<u32>(NB_MINIPORT_RESERVED).toBe(0x40);
    expect<u32>(NB_DATA_PHYSICAL_ADDRESS).toBe(0x50);
    expect<u32>(NB_SIZE).toBe(0x58);
  });

  it("has array fields of the documented lengths (NdisReserved[2], ProtocolReserved[6], MiniportReserved[4])", () => {
    expect<u32>(NB_PROTOCOL_RESERVED - NB_NDIS_RESERVED).toBe(2 * PTR_SIZE);
    expect<u32>(NB_MINIPORT_RESERVED - NB_PROTOCOL_RESERVED).toBe(6 * PTR_SIZE);
    expect<u32>(NB_DATA_PHYSICAL_ADDRESS - NB_MINIPORT_RESERVED).toBe(4 * PTR_SIZE);
    expect<u32>(NB_SIZE - NB_DATA_PHYSICAL_ADDRESS).toBe(8);
    expect<u32>(NB_SIZE % MEMORY_ALLOCATION_ALIGNMENT).toBe(0);
  });
});

describe("MDL (x86)", () => {
  it("pins every field offset and the size", () => {
    expect<u32>(MDL_NEXT).toBe(0);
    expect<u32>(MDL_SIZE_FIELD).toBe(4);
    expect<u32>(MDL_FLAGS).toBe(6);
    expect<u32>(MDL_PROCESS).toBe(8);
    expect<u32>(MDL_MAPPED_SYSTEM_VA).toBe(12);
    expect<u32>(MDL_START_VA).toBe(16);
    expect<u32>(MDL_BYTE_COUNT).toBe(20);
    expect<u32>(MDL_BYTE_OFFSET).toBe(24);
    expect<u32>(MDL_SIZE).toBe(28);
  });
});

describe("MdlAndData object", () => {
  it("puts the MDL right after the NET_BUFFER and the data 8-aligned after the MDL", () => {
    expect<u32>(MDAT_MDL).toBe(0x58);
    expect<u32>(MDAT_DATA).toBe(0x78);
    expect<u32>(MDAT_MDL).toBe(NB_SIZE);
    expect<u32>(MDAT_DATA % MEMORY_ALLOCATION_ALIGNMENT).toBe(0);
    expect<u32>(MDAT_DATA).toBeGreaterThanOrEqual(MDAT_MDL + MDL_SIZE);
  });

  it("NDIS_GENERIC_OBJECT is 16 bytes", () => {
    expect<u32>(GOBJ_SIZE).toBe(16);
  });
});

describe("pool descriptor", () => {
  it("has non-overlapping fields inside 128 bytes, 64-bit counters 8-aligned", () => {
    expect<u32>(POOL_DESC_SIZE).toBe(128);
    expect<u32>(P_KIND).toBe(0);
    expect<u32>(P_TAG).toBe(4);
    expect<u32>(P_OBJ_SIZE).toBe(8);
    expect<u32>(P_CAP).toBe(12);
    expect<u32>(P_MAGIC).toBe(16);
    expect<u32>(P_SLAB_UNITS).toBe(24);
    expect<u32>(P_OBJ_OFFSET).toBe(28);
    expect<u32>(P_CURRENT).toBe(32);
    expect<u32>(P_PARTIAL).toBe(36);
    expect<u32>(P_SPARE).toBe(40);
    expect<u32>(P_SLAB_COUNT).toBe(44);
    expect<u32>(P_OUTSTANDING).toBe(48);
    expect<u32>(P_PEAK).toBe(52);
    expect<u32>(P_MAX_OUT).toBe(56);
    expect<u32>(P_AUX_WORDS).toBe(60);
    expect<u32>(P_ALLOCS).toBe(64);
    expect<u32>(P_FREES).toBe(72);
    expect<u32>(P_FAILURES).toBe(80);
    expect<u32>(P_OWNER).toBe(88);
    expect<u32>(P_FLAGS).toBe(92);
    expect<u32>(P_USER0).toBe(96);
    expect<u32>(P_USER1).toBe(100);
    expect<u32>(P_USER2).toBe(104);
    expect<u32>(P_UNITS).toBe(108);
    expect<u32>(P_BYTES).toBe(112);
    expect<u32>(P_ID).toBe(120);
    expect<u32>(P_REQ_SIZE).toBe(124);
    expect<u32>(P_ALLOCS & 7).toBe(0);
    expect<u32>(P_FREES & 7).toBe(0);
    expect<u32>(P_FAILURES & 7).toBe(0);
    expect<u32>(P_BYTES & 7).toBe(0);
    expect<u32>(P_MAGIC & 7).toBe(0);
    expect<u32>(P_REQ_SIZE + 4).toBe(POOL_DESC_SIZE);
  });
});

describe("status codes", () => {
  it("are distinct, below E_LIMIT, and argument errors fit below E_LIMIT too", () => {
    expect<u32>(E_OK).toBe(0);
    expect<u32>(E_NOT_OURS).toBe(1);
    expect<u32>(E_WRONG_KIND).toBe(2);
    expect<u32>(E_MISALIGNED).toBe(3);
    expect<u32>(E_NOT_ALLOCATED).toBe(4);
    expect<u32>(E_WRONG_POOL).toBe(5);
    expect<u32>(E_DUPLICATE).toBe(6);
    expect<u32>(E_POOL4).toBe(40);
    expect<u32>(E_NB_ARGS).toBe(41);
    expect<u32>(E_NB_RANGE).toBe(42);
    expect<u32>(E_POOL5).toBe(43);
    expect<u32>(E_POOL6).toBe(44);
    expect<u32>(E_WRONG_TAG).toBe(45);
    expect<u32>(E_MDL_LOOP).toBe(46);
    expect<u32>(E_BAD_RANGE).toBe(47);
    expect<u32>(E_LIMIT).toBe(4096);
    // The largest argument error used (argument 4, E_DUPLICATE) is still below E_LIMIT,
    // and every slab address (>= one unit) is at or above it.
    expect<u32>((4 << ARG_SHIFT) | E_DUPLICATE).toBeLessThan(E_LIMIT);
    expect<u32>(E_BAD_RANGE).toBeLessThan(E_LIMIT);
    expect<u32>(UNIT_SIZE).toBe(1 << UNIT_SHIFT);
    expect<u32>(UNIT_SIZE).toBeGreaterThanOrEqual(E_LIMIT);
  });
});

describe("layout() export", () => {
  it("reports the same NET_BUFFER and MDL values as the constants", () => {
    expect<u32>(layout(0)).toBe(0x58);
    expect<u32>(layout(1)).toBe(0x00);
    expect<u32>(layout(2)).toBe(0x04);
    expect<u32>(layout(3)).toBe(0x08);
    expect<u32>(layout(4)).toBe(0x0c);
    expect<u32>(layout(5)).toBe(0x10);
    expect<u32>(layout(6)).toBe(0x14);
    expect<u32>(layout(7)).toBe(0x18);
    expect<u32>(layout(8)).toBe(0x1c);
    expect<u32>(layout(9)).toBe(0x20);
    expect<u32>(layout(10)).toBe(0x28);
    expect<u32>(layout(11)).toBe(0x40);
    expect<u32>(layout(12)).toBe(0x50);
    expect<u32>(layout(13)).toBe(28);
    expect<u32>(layout(14)).toBe(0);
    expect<u32>(layout(15)).toBe(4);
    expect<u32>(layout(16)).toBe(6);
    expect<u32>(layout(17)).toBe(8);
    expect<u32>(layout(18)).toBe(12);
    expect<u32>(layout(19)).toBe(16);
    expect<u32>(layout(20)).toBe(20);
    expect<u32>(layout(21)).toBe(24);
    expect<u32>(layout(22)).toBe(0x58);
    expect<u32>(layout(23)).toBe(0x78);
    expect<u32>(layout(24)).toBe(16);
    expect<u32>(layout(25)).toBe(128);
  });

  it("reports the pool descriptor offsets", () => {
    expect<u32>(layout(26)).toBe(P_KIND);
    expect<u32>(layout(27)).toBe(P_TAG);
    expect<u32>(layout(28)).toBe(P_OBJ_SIZE);
    expect<u32>(layout(29)).toBe(P_OUTSTANDING);
    expect<u32>(layout(30)).toBe(P_PEAK);
    expect<u32>(layout(31)).toBe(P_ALLOCS);
    expect<u32>(layout(32)).toBe(P_FREES);
    expect<u32>(layout(33)).toBe(P_FAILURES);
    expect<u32>(layout(34)).toBe(P_BYTES);
    expect<u32>(layout(35)).toBe(P_ID);
    expect<u32>(layout(36)).toBe(P_REQ_SIZE);
    expect<u32>(layout(37)).toBe(P_MAX_OUT);
    expect<u32>(layout(38)).toBe(P_USER0);
    expect<u32>(layout(39)).toBe(P_USER1);
    expect<u32>(layout(40)).toBe(P_OWNER);
    expect<u32>(layout(41)).toBe(P_SLAB_COUNT);
    expect<u32>(layout(42)).toBe(P_SLAB_UNITS);
    expect<u32>(layout(43)).toBe(P_CAP);
    expect<u32>(layout(44)).toBe(P_FLAGS);
    expect<u32>(layout(49)).toBe(UNIT_SHIFT);
  });

  it("returns 0xFFFFFFFF for an unknown index", () => {
    expect<u32>(layout(100000)).toBe(0xFFFFFFFF);
  });
});
