/**
 * `npm start`: a tour of ndis-pool for a newcomer. A protocol driver registers, creates a
 * NET_BUFFER pool of 1514-byte frames (NET_BUFFER + MDL + data in one slab object), allocates
 * and frees bursts, writes and reads frame bytes in place, frees everything in the right order
 * and prints per-tag statistics like Windows poolmon.
 */
import {
  createRuntime, NDIS_STATUS_SUCCESS, NDIS_OBJECT_TYPE_DEFAULT, NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS,
  NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1, NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1,
  NET_BUFFER_POOL_PARAMETERS_REVISION_1, NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1, NormalPagePriority,
  POOL_TAG, NdisBugCheck, type NDIS_HANDLE, type PNET_BUFFER,
} from './index.js';

const log = (s = '') => console.log(s);
const rt = await createRuntime();
const noop = () => undefined;

log('ndis-pool demo: NDIS NET_BUFFER pools on a WebAssembly slab allocator');
log(`runtime: ${rt.sharedMemory ? 'shared' : 'plain'} Wasm memory, budget ${rt.maxMemory / 2 ** 20} MiB\n`);

// 1. A protocol driver registers and gets the handle it will pass to the pool allocators.
const protocol = { value: 0 as NDIS_HANDLE | 0 };
const status = rt.NdisRegisterProtocolDriver(0, {
  Header: { Type: NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS, Revision: NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1, Size: NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1 },
  MajorNdisVersion: 6, MinorNdisVersion: 30, Name: 'DemoProt',
  BindAdapterHandlerEx: noop, UnbindAdapterHandlerEx: noop, OpenAdapterCompleteHandlerEx: noop,
  CloseAdapterCompleteHandlerEx: noop, NetPnPEventHandler: noop, OidRequestCompleteHandler: noop,
  StatusHandlerEx: noop, ReceiveNetBufferListsHandler: noop, SendNetBufferListsCompleteHandler: noop,
}, protocol);
if (status !== NDIS_STATUS_SUCCESS || protocol.value === 0) throw new Error(`registration failed: ${status}`);
log(`1. NdisRegisterProtocolDriver -> NDIS_STATUS_SUCCESS, handle 0x${protocol.value.toString(16)}`);

// 2. A pool of 1514-byte Ethernet frames: each NdisAllocateNetBufferMdlAndData is one slab object.
const pool = rt.NdisAllocateNetBufferPool(protocol.value, {
  Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1 },
  PoolTag: POOL_TAG('mrfD'), // poolmon shows "Dfrm"
  DataSize: 1514,
});
if (!pool) throw new Error('pool allocation failed');
log(`2. NdisAllocateNetBufferPool(DataSize 1514, tag 'Dfrm') -> pool 0x${pool.toString(16)}`);

// 3. Bursts: allocate 256 frames, free them, three times over; the slabs are reused.
const burst: PNET_BUFFER[] = [];
for (let round = 1; round <= 3; round++) {
  for (let i = 0; i < 256; i++) {
    const nb = rt.NdisAllocateNetBufferMdlAndData(pool);
    if (!nb) throw new Error('out of memory');
    burst.push(nb);
  }
  const first = burst[0]!;
  log(`3.${round} allocated 256 frames; first NB 0x${first.toString(16)}, DataLength ${rt.NET_BUFFER_DATA_LENGTH(first)}`);
  if (round < 3) for (const nb of burst.splice(0)) rt.NdisFreeNetBuffer(nb);
}

// 4. Write a frame through its MDL and read it back: the bytes live in Wasm memory, zero-copy.
const nb = burst[0]!;
const mdl = rt.NET_BUFFER_FIRST_MDL(nb);
if (!mdl) throw new Error('an MdlAndData NET_BUFFER always has an MDL');
const va = rt.MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
const frame = rt.bytes(va, rt.MmGetMdlByteCount(mdl));
frame.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06]); // broadcast ARP header
const text = new TextEncoder().encode('hello from ndis-pool');
frame.set(text, 14);
const back = rt.bytes(va, 14 + text.length);
log(`4. frame at 0x${va.toString(16)}: dst ${[...back.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':')}, ethertype 0x0806, payload "${String.fromCharCode(...back.subarray(14))}"`);

// 5. Misuse is a bug check, not corruption: a double free is caught and changes nothing.
const spare = rt.NdisAllocateNetBufferMdlAndData(pool);
if (!spare) throw new Error('out of memory');
rt.NdisFreeNetBuffer(spare);
try {
  rt.NdisFreeNetBuffer(spare);
} catch (e) {
  if (!(e instanceof NdisBugCheck)) throw e;
  log(`5. second NdisFreeNetBuffer -> NdisBugCheck ${e.rule}: ${e.message}`);
}

// 6. Statistics while frames are outstanding, then free in the right order: NBs, pool, driver.
log('\n6. poolmon with 256 frames outstanding:');
log(rt.poolmonTable());
for (const b of burst.splice(0)) rt.NdisFreeNetBuffer(b);
rt.NdisFreeNetBufferPool(pool);
rt.NdisDeregisterProtocolDriver(protocol.value);
log('\n7. freed 256 NBs, then the pool, then deregistered the protocol. poolmon now:');
log(rt.poolmonTable());
const u = rt.memoryUsage();
log(`memory: ${u.memoryBytes / 2 ** 20} MiB of linear memory, ${u.freeSlabBytes / 1024} KiB of slabs free for reuse`);
