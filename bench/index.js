/**
 * ndis-pool benchmark suite (`npm run bench`, or `node bench/index.js` after `npm run build`).
 *
 * benchmark.js 2.x suites, all in ONE process. Each ndis-pool case runs back-to-back with its
 * baseline (same suite, right after it), and the table reports
 *
 *   ratio = ndis-pool time per op / baseline time per op     (< 1: ndis-pool is faster)
 *
 * Cases (ids are what --filter matches, together with the names):
 *   frame.ndis   NdisAllocateNetBufferMdlAndData + NdisFreeNetBuffer, pool DataSize 1514
 *   frame.gc     baseline: new Uint8Array(1514) left to the GC
 *   single.slab  SlabPool.alloc + SlabPool.free, 64-byte objects
 *   single.js    baseline: plain-JS Int32Array free-list pool, pop + push
 *   bulk.slab    SlabPool.allocMany + freeMany, 256 at a time through a u32Batch (zero-copy)
 *   bulk.js      baseline: the same plain-JS pool, 256 pops then 256 pushes
 *   nbl.ndis     NBL with preallocated NB + 1514 B data: allocate, retreat 14, advance 14, free
 *   nbl.js       baseline: the same with JS objects and Uint8Arrays left to the GC
 *   chain.one    allocate + link 64 NBLs, free the chain in one call (per NBL)
 *   chain.each   baseline: the same with 64 NdisFreeNetBufferList calls
 *   packet.ndis  NDIS 5: NdisAllocatePacket + 2 x NdisAllocateBuffer (14 + 1500 B of preallocated
 *                memory), 2 x NdisChainBufferAtBack, NdisQueryPacket, 2 x unchain, 2 x
 *                NdisFreeBuffer, NdisFreePacket
 *   packet.js    baseline: the same with a JS packet object (buffer array, counts) and {va, length}
 *                buffer objects left to the GC
 *   ring.ndis    DescriptorRing burst enqueue + dequeue, 32 per call (per descriptor)
 *   ring.js      baseline: the same with a plain-JS Uint32Array ring
 *   record.accessors  typed record (defineRecord: x, y, vx, vy f32 + id u32) in a SlabPool, 1024
 *                live particles: read x, y, vx, vy and write x += vx, y += vy through the field
 *                accessors (fields.x.get / .set), per particle
 *   record.objects    baseline: the same update on 1024 plain JS objects {x, y, vx, vy, id}
 *                (instances of a small class, so V8 keeps their fields as doubles)
 *   record.dataview   second baseline: the same through a DataView over an ArrayBuffer with the
 *                record's layout (little-endian)
 *   record.f32view    reference: the same through a raw Float32Array view of linear memory
 *                ((p >>> 2) + field offset / 4): the accessors' overhead is the gap to this
 *   verifier.frame  frame.ndis's loop (free one of 1024 live MdlAndData NBs, allocate one) on a runtime
 *                created with { verifier: true }: sites recorded, IRQL checked, frees quarantined
 *   verifier.plain  baseline: the same loop on a normal runtime
 *   vnic.64      vNIC loopback, 64-byte frames: NdisSendNetBufferLists → virtual miniport → hub DPC in Wasm
 *                → send-complete + NdisMIndicateReceiveNetBufferLists → NdisReturnNetBufferLists, bursts
 *                of 64 between two virtual adapters (bench/vnic.js), per frame (reference: no JS twin)
 *   vnic.1514    the same with 1514-byte frames
 *   gen.handles  generational SlabPool (handles: 'generational'): alloc + free, 64-byte objects
 *   gen.plain    baseline: the same on a pointer SlabPool
 *   gen.ptr      reference: pool.ptr(handle) over 1024 live handles, per lookup
 *   acquire.slab      await SlabPool.acquire() + free, 64 sequential pairs per call (64-byte
 *                objects, maxOutstanding 16: never waits), per pair
 *   acquire.generic   baseline: the same with generic-pool 3 (max 16, min 16, warmed up),
 *                await acquire() + await release()
 *   acquire.slab.wait     32 concurrent acquire-then-free tasks on the same pool (16 wait), per pair
 *   acquire.generic.wait  baseline: the same with generic-pool (16 wait)
 *   ref.nop      reference: one empty JS->Wasm call (runtime.wasm.nop)
 *   ref.wasm     reference: benchAllocFreeLoop, allocMany(256) + 256 frees entirely in Wasm
 *
 * Options:
 *   --quick             short maxTime per case (whole run < 1 min)
 *   --filter <regex>    run only cases whose id or name matches (a case's baseline is added)
 *   --json <file>       also write machine-readable results to <file>
 *   --help
 *
 * Argument parsing uses Node's built-in util.parseArgs: no argument parser is a dependency of
 * this package (commander is in node_modules only as a transitive dependency of @as-pect/cli).
 */
import Benchmark from 'benchmark';
import Table from 'cli-table3';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import genericPool from 'generic-pool';
import {
  MDL_AND_DATA_LAYOUT, NDIS_OBJECT_TYPE_DEFAULT, NET_BUFFER_POOL_PARAMETERS_REVISION_1,
  NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1, POOL_TAG, NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
  NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, NDIS_STATUS_SUCCESS, NormalPoolPriority,
} from '../build/ts/index.js';
import { createRuntime } from '../build/ts/runtime.js';
import { makeLoopback } from './vnic.js';

// ---------------------------------------------------------------------------------------------
// Command line

const USAGE = `usage: node bench/index.js [--quick] [--filter <regex>] [--json <file>]
  (or: npm run bench -- [options], which builds first)
  --quick           short run (about 2 s per case, < 1 min in all)
  --filter <regex>  run only cases whose id or name matches (baselines are added)
  --json <file>     write machine-readable results to <file>`;

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      filter: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (e) {
  console.error(`${e.message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
let filter = null;
if (args.filter !== undefined) {
  try {
    filter = new RegExp(args.filter, 'i');
  } catch (e) {
    console.error(`--filter: ${e.message}`);
    process.exit(2);
  }
}

/** Seconds of sampling per case (benchmark.js maxTime; it also takes >= 5 samples). */
const MAX_TIME = args.quick ? 1.5 : 9;

// ---------------------------------------------------------------------------------------------
// Setup

/** Single-object cases do this many ops per benchmark.js call, to keep the call overhead small. */
const INNER = 64;
/** Objects per bulk call. */
const BATCH = 256;
/** Rounds of benchAllocFreeLoop per call (each round: allocMany(256) + 256 frees). */
const WASM_ROUNDS = 16;
/** Live frames on each side of the frame comparison (a ring; each op replaces one). */
const RING = 1024;
const FRAME = 1514;

const rt = await createRuntime();

// Frame case: an NB pool of 1514-byte frames (NET_BUFFER + MDL + data in one slab object).
const nbPool = rt.NdisAllocateNetBufferPool(0, {
  Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1 },
  PoolTag: POOL_TAG('hcnB'), // poolmon shows "Bnch"
  DataSize: FRAME,
});
if (!nbPool) throw new Error('NdisAllocateNetBufferPool returned NULL');
const nbRing = new Uint32Array(RING);
for (let i = 0; i < RING; i++) {
  const nb = rt.NdisAllocateNetBufferMdlAndData(nbPool);
  if (!nb) throw new Error('NdisAllocateNetBufferMdlAndData returned NULL');
  nbRing[i] = nb;
}
// One spare object so the steady state (free one, allocate one) never touches memory.grow.
rt.NdisFreeNetBuffer(rt.NdisAllocateNetBufferMdlAndData(nbPool));
let nbCursor = 0;

// SlabPool of 64-byte objects (single and bulk cases), a zero-copy batch, Wasm-loop scratch.
const slab = rt.createSlabPool({ objectSize: 64, tag: 'Bnch' });
// Verifier cost: the frame loop on a verifier runtime and on a normal one (each its own runtime).
function frameLoop(r) {
  const pool = r.NdisAllocateNetBufferPool(0, {
    Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1 },
    PoolTag: POOL_TAG('fireV'.slice(0, 4)), DataSize: FRAME,
  });
  const live = new Uint32Array(RING);
  for (let i = 0; i < RING; i++) live[i] = r.NdisAllocateNetBufferMdlAndData(pool);
  let c = 0;
  return () => {
    for (let k = 0; k < INNER; k++) {
      c = (c + 1) & (RING - 1);
      r.NdisFreeNetBuffer(live[c]);
      const nb = r.NdisAllocateNetBufferMdlAndData(pool);
      if (nb === 0) throw new Error('NULL NET_BUFFER');
      live[c] = nb;
    }
  };
}
const verifierFrame = frameLoop(await createRuntime({ verifier: true }));
const plainFrame = frameLoop(await createRuntime());
// vNIC loopback: its own runtime, two adapters on a hub, bursts of 64 frames.
const vnicRt = await createRuntime();
const loop64 = makeLoopback(vnicRt, 64);
const loop1514 = makeLoopback(vnicRt, 1514);
// Generational handles: a pool of its own, and its pointer twin as the baseline.
const genPool = rt.createSlabPool({ objectSize: 64, tag: 'Gen ', handles: 'generational' });
const genTwin = rt.createSlabPool({ objectSize: 64, tag: 'GenP' });
const genLive = new Uint32Array(1024);
for (let i = 0; i < genLive.length; i++) genLive[i] = genPool.alloc();
if (!slab) throw new Error('createSlabPool returned null');
const batch = rt.u32Batch(BATCH);
const scratch = rt.u32Batch(BATCH);
const scratchAddr = scratch.byteOffset; // a u32Batch is a view of linear memory at its address
if (slab.allocMany(batch) !== BATCH) throw new Error('allocMany could not warm the pool');
slab.freeMany(batch);
const wasm = rt.wasm;

// One view of linear memory for writing frame bytes (taken after warm-up; no growth follows).
const mem = new Uint8Array(rt.memory.buffer);
const DATA = MDL_AND_DATA_LAYOUT.Data; // data follows the NET_BUFFER and its MDL
for (let i = 0; i < RING; i++) {
  if (nbRing[i] + DATA + FRAME > mem.length) throw new Error('frame outside the memory view');
}

// GC baseline: the same ring of live frames, as plain Uint8Arrays.
const gcRing = new Array(RING);
for (let i = 0; i < RING; i++) gcRing[i] = new Uint8Array(FRAME);
let gcCursor = 0;

/**
 * The best fixed-size pool a JS user could write: one preallocated ArrayBuffer, an Int32Array
 * stack of free byte offsets; alloc = pop, free = push. No validation (a double free corrupts
 * it silently, where SlabPool.free throws NdisBugCheck).
 */
class JsPool {
  constructor(objectSize, capacity) {
    this.buffer = new ArrayBuffer(objectSize * capacity);
    this.stack = new Int32Array(capacity);
    this.top = capacity;
    for (let i = 0; i < capacity; i++) this.stack[i] = (capacity - 1 - i) * objectSize;
  }
  /** @returns a byte offset into `buffer`, or -1 when empty. */
  alloc() {
    return this.top > 0 ? this.stack[--this.top] : -1;
  }
  free(off) {
    this.stack[this.top++] = off;
  }
}
const jsPool = new JsPool(64, 4096);

// NBL case: a pool of NBLs, each with its preallocated NET_BUFFER, MDL and 1514 bytes of data.
const nblPool = rt.NdisAllocateNetBufferListPool(0, {
  Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 },
  ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: POOL_TAG('lbNB'), DataSize: FRAME,
});
if (!nblPool) throw new Error('NdisAllocateNetBufferListPool returned NULL');
const nblRing = new Uint32Array(RING);
for (let i = 0; i < RING; i++) nblRing[i] = rt.NdisAllocateNetBufferList(nblPool, 0, 0);
let nblCursor = 0;
const HDR = 14;

// The same in plain JS: an NBL object, its NB object, an MDL chain of Uint8Arrays; retreat past
// the headroom prepends a new buffer, advance drops it (as NDIS does with FreeMdl TRUE).
function jsNbl() {
  return { next: null, status: 0, nb: { next: null, dataOffset: 0, dataLength: FRAME, mdls: [new Uint8Array(FRAME)] } };
}
function jsRetreat(nb, delta) {
  if (delta <= nb.dataOffset) { nb.dataOffset -= delta; nb.dataLength += delta; return; }
  nb.mdls.unshift(new Uint8Array(delta));
  nb.dataOffset = nb.dataOffset + delta - delta;
  nb.dataLength += delta;
}
function jsAdvance(nb, delta) {
  nb.dataOffset += delta;
  nb.dataLength -= delta;
  while (nb.mdls.length > 1 && nb.dataOffset >= nb.mdls[0].length) nb.dataOffset -= nb.mdls.shift().length;
}
const jsNblRing = new Array(RING);
for (let i = 0; i < RING; i++) jsNblRing[i] = jsNbl();
let jsNblCursor = 0;

// Chain case: 64 NBLs linked by Next, freed in one call or one by one.
const CHAIN = 64;
const chainPool = rt.NdisAllocateNetBufferListPool(0, {
  Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 },
  ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 16, PoolTag: POOL_TAG('nhCB'), DataSize: 0,
});
const chainNbls = new Uint32Array(CHAIN);
/** Allocates CHAIN NBLs and links them; returns the head. */
function buildChain() {
  for (let i = 0; i < CHAIN; i++) {
    const nbl = rt.NdisAllocateNetBufferList(chainPool, 0, 0);
    if (nbl === 0) throw new Error('NULL NBL');
    chainNbls[i] = nbl;
  }
  for (let i = 0; i < CHAIN - 1; i++) rt.NET_BUFFER_LIST_NEXT_NBL_SET(chainNbls[i], chainNbls[i + 1]);
  return chainNbls[0];
}
rt.freeNetBufferListChain(buildChain()); // warm the pool
{ // warm the retreat allocator (its tagged memory and MDL slabs)
  const nbl = rt.NdisAllocateNetBufferList(nblPool, 0, 0);
  const nb = rt.NET_BUFFER_LIST_FIRST_NB(nbl);
  if (rt.NdisRetreatNetBufferDataStart(nb, HDR, 0) !== 0) throw new Error('warm-up retreat failed');
  rt.NdisAdvanceNetBufferDataStart(nb, HDR, true);
  rt.NdisFreeNetBufferList(nbl);
}
// Packet case (NDIS 5): a packet pool (ProtocolReservedLength 16), a buffer pool, and one
// preallocated 1514-byte frame the two buffers describe (header 14 + payload 1500).
const PKT_HDR = 14;
const pkStatus = { value: 0 };
const pkPoolOut = { value: 0 };
const pkOut = { value: 0 };
const pkBufOut = { value: 0 };
const pkPhys = { value: 0 };
const pkCount = { value: 0 };
const pkFirst = { value: 0 };
const pkTotal = { value: 0 };
rt.NdisAllocatePacketPool(pkStatus, pkPoolOut, 64, 16);
if (pkStatus.value !== NDIS_STATUS_SUCCESS) throw new Error('NdisAllocatePacketPool failed');
const packetPool = pkPoolOut.value;
rt.NdisAllocateBufferPool(pkStatus, pkPoolOut, 64);
if (pkStatus.value !== NDIS_STATUS_SUCCESS) throw new Error('NdisAllocateBufferPool failed');
const bufferPool = pkPoolOut.value;
const pkGen = rt.NdisAllocateGenericObject(0, POOL_TAG('tkPB'), 0);
const pkFrame = rt.NdisAllocateMemoryWithTagPriority(pkGen, FRAME, POOL_TAG('tkPB'), NormalPoolPriority);
if (!pkFrame) throw new Error('NdisAllocateMemoryWithTagPriority returned NULL');
/** One packet cycle; returns TotalPacketLength. */
function packetCycle() {
  rt.NdisAllocatePacket(pkStatus, pkOut, packetPool);
  if (pkStatus.value !== NDIS_STATUS_SUCCESS) throw new Error('NdisAllocatePacket failed');
  const p = pkOut.value;
  rt.NdisAllocateBuffer(pkStatus, pkBufOut, bufferPool, pkFrame, PKT_HDR);
  if (pkStatus.value !== NDIS_STATUS_SUCCESS) throw new Error('NdisAllocateBuffer failed');
  const b1 = pkBufOut.value;
  rt.NdisAllocateBuffer(pkStatus, pkBufOut, bufferPool, pkFrame + PKT_HDR, FRAME - PKT_HDR);
  if (pkStatus.value !== NDIS_STATUS_SUCCESS) throw new Error('NdisAllocateBuffer failed');
  const b2 = pkBufOut.value;
  rt.NdisChainBufferAtBack(p, b1);
  rt.NdisChainBufferAtBack(p, b2);
  rt.NdisQueryPacket(p, pkPhys, pkCount, pkFirst, pkTotal);
  if (pkCount.value !== 2 || pkTotal.value !== FRAME || pkFirst.value !== b1) throw new Error('NdisQueryPacket: wrong counts');
  rt.NdisUnchainBufferAtFront(p, pkBufOut);
  rt.NdisUnchainBufferAtFront(p, pkBufOut);
  rt.NdisFreeBuffer(b1);
  rt.NdisFreeBuffer(b2);
  rt.NdisFreePacket(p);
  return pkTotal.value;
}
packetCycle(); // warm the MDL pool

// The same in plain JS: a packet object with a buffer array and cached counts, {va, length}
// buffers over a preallocated frame, all left to the GC.
const jsFrame = new Uint8Array(FRAME);
function jsQueryPacket(pkt) {
  if (!pkt.validCounts) {
    let phys = 0, total = 0;
    for (const b of pkt.buffers) {
      phys += b.length === 0 ? 1 : ((b.va & 0xfff) + b.length + 0xfff) >>> 12;
      total += b.length;
    }
    pkt.physicalCount = phys;
    pkt.count = pkt.buffers.length;
    pkt.totalLength = total;
    pkt.validCounts = true;
  }
  return pkt;
}
function jsPacketCycle() {
  const pkt = { buffers: [], validCounts: false, physicalCount: 0, count: 0, totalLength: 0, status: 0, protocolReserved: null };
  const b1 = { va: 0, length: PKT_HDR, memory: jsFrame };
  const b2 = { va: PKT_HDR, length: FRAME - PKT_HDR, memory: jsFrame };
  pkt.buffers.push(b1);
  pkt.validCounts = false;
  pkt.buffers.push(b2);
  pkt.validCounts = false;
  jsQueryPacket(pkt);
  if (pkt.count !== 2 || pkt.totalLength !== FRAME || pkt.buffers[0] !== b1) throw new Error('jsQueryPacket: wrong counts');
  pkt.buffers.shift();
  pkt.validCounts = false;
  pkt.buffers.shift();
  pkt.validCounts = false;
  return pkt.totalLength;
}

// Ring case: a 256-slot descriptor ring, bursts of 32 descriptors (5 u32 words each).
const RING_BURST = 32;
const descRing = rt.createRing({ capacity: 256, name: 'bench' });
if (!descRing) throw new Error('createRing returned null');
const ringBatch = rt.u32Batch(RING_BURST * 5);
for (let i = 0; i < ringBatch.length; i++) ringBatch[i] = i;
/** The same ring in plain JS: a Uint32Array of slots, free-running indices, copies in and out. */
class JsRing {
  constructor(capacity) {
    this.slots = new Uint32Array(capacity * 5);
    this.mask = capacity - 1;
    this.capacity = capacity;
    this.prod = 0;
    this.cons = 0;
  }
  enqueueBurst(src, n) {
    const k = Math.min(n, this.capacity - ((this.prod - this.cons) >>> 0));
    for (let i = 0; i < k; i++) {
      const o = ((this.prod + i) & this.mask) * 5;
      for (let w = 0; w < 5; w++) this.slots[o + w] = src[i * 5 + w];
    }
    this.prod = (this.prod + k) >>> 0;
    return k;
  }
  dequeueBurst(out, n) {
    const k = Math.min(n, (this.prod - this.cons) >>> 0);
    for (let i = 0; i < k; i++) {
      const o = ((this.cons + i) & this.mask) * 5;
      for (let w = 0; w < 5; w++) out[i * 5 + w] = this.slots[o + w];
    }
    this.cons = (this.cons + k) >>> 0;
    return k;
  }
}
const jsRing = new JsRing(256);
const jsRingBuf = new Uint32Array(RING_BURST * 5).map((_, i) => i);

// Record case: 1024 live particles, a typed record in a SlabPool, updated in place (x += vx,
// y += vy); the same update on plain JS objects, through a DataView over an ArrayBuffer with the
// record's layout, and (reference) through a raw Float32Array view of linear memory.
const RECORDS = 1024;
const Particle = rt.defineRecord({ x: 'f32', y: 'f32', vx: 'f32', vy: 'f32', id: 'u32' });
const particlePool = rt.createSlabPool({ record: Particle, tag: 'Part' });
if (!particlePool) throw new Error('createSlabPool (record) returned null');
/** Initial state of particle i, the same on every side (multiples of 1/8: exact in f32). */
function particleInit(i) {
  return { x: i, y: -i, vx: ((i % 7) - 3) / 8, vy: ((i % 5) - 2) / 8, id: i };
}
const particles = new Uint32Array(RECORDS); // the records' addresses
for (let i = 0; i < RECORDS; i++) {
  const p = particlePool.alloc();
  if (p === 0) throw new Error('SlabPool.alloc (record) returned 0');
  Particle.write(p, particleInit(i));
  particles[i] = p;
}
/**
 * The plain-JS particle. A class, not object literals: its instances get a map of their own,
 * so their fields stay Double fields (updated in place). A literal {x, ...} shares V8's map
 * transition tree with every other object literal starting with x in the process (benchmark.js
 * and cli-table3 make some), which can widen x to "any value" and box every write.
 */
class JsParticle {
  constructor({ x, y, vx, vy, id }) {
    this.x = x;
    this.y = y;
    this.vx = vx;
    this.vy = vy;
    this.id = id;
  }
}
const jsParticles = Array.from({ length: RECORDS }, (_, i) => new JsParticle(particleInit(i)));
// Field byte offsets, from the record type (x 0, y 4, vx 8, vy 12, id 16; size 20).
const PX = Particle.fields.x.offset;
const PY = Particle.fields.y.offset;
const PVX = Particle.fields.vx.offset;
const PVY = Particle.fields.vy.offset;
const dvParticles = new DataView(new ArrayBuffer(RECORDS * Particle.size));
for (let i = 0; i < RECORDS; i++) {
  const o = i * Particle.size;
  const v = particleInit(i);
  dvParticles.setFloat32(o + PX, v.x, true);
  dvParticles.setFloat32(o + PY, v.y, true);
  dvParticles.setFloat32(o + PVX, v.vx, true);
  dvParticles.setFloat32(o + PVY, v.vy, true);
  dvParticles.setUint32(o + Particle.fields.id.offset, v.id, true);
}
// The raw view (record.f32view) is taken below, once memory has stopped growing.

// Acquire case: async acquire + release, a SlabPool of 64-byte objects against generic-pool,
// both limited to ACQ_MAX outstanding: sequential pairs (never wait), then ACQ_TASKS at once.
const ACQ_MAX = 16;
/** Sequential acquire/release pairs per call (acquire.slab, acquire.generic). */
const ACQ_INNER = 64;
/** Concurrent acquire-then-release tasks per call (*.wait): ACQ_TASKS - ACQ_MAX of them wait. */
const ACQ_TASKS = 32;
const acqPool = rt.createSlabPool({ objectSize: 64, tag: 'Acqr', maxOutstanding: ACQ_MAX });
if (!acqPool) throw new Error('createSlabPool (acquire) returned null');
{ // warm it to the limit (its slab exists before memory is measured) and check the limit holds
  const held = [];
  for (let i = 0; i < ACQ_MAX; i++) held.push(acqPool.alloc());
  if (held.includes(0)) throw new Error('SlabPool.alloc (acquire) returned 0 below maxOutstanding');
  if (acqPool.alloc() !== 0) throw new Error('SlabPool.alloc (acquire) went past maxOutstanding');
  for (const p of held) acqPool.free(p);
}
const gp = genericPool.createPool({ create: async () => ({}), destroy: async () => {} }, { max: ACQ_MAX, min: ACQ_MAX });
await gp.ready(); // the min resources are created before anything is measured
{ // one round at the limit, so every resource has been borrowed and released once
  const rs = await Promise.all(Array.from({ length: ACQ_MAX }, () => gp.acquire()));
  await Promise.all(rs.map((r) => gp.release(r)));
  if (gp.size !== ACQ_MAX || gp.available !== ACQ_MAX) throw new Error(`generic-pool not warm: size ${gp.size}, available ${gp.available}`);
}

/** acquire.slab: ACQ_INNER sequential await acquire() + free. */
async function slabAcquireSeq() {
  let s = 0;
  for (let k = 0; k < ACQ_INNER; k++) {
    const p = await acqPool.acquire();
    acqPool.free(p);
    s += p;
  }
  sink += s;
}
/** acquire.generic: ACQ_INNER sequential await acquire() + await release(). */
async function genericAcquireSeq() {
  for (let k = 0; k < ACQ_INNER; k++) {
    const r = await gp.acquire();
    await gp.release(r);
  }
}
/** One *.wait task: acquire (waiting if need be), then release at once. */
async function slabTask() {
  const p = await acqPool.acquire();
  acqPool.free(p);
  return p;
}
async function genericTask() {
  const r = await gp.acquire();
  await gp.release(r);
}
const acqTasks = new Array(ACQ_TASKS);
/** acquire.slab.wait: ACQ_TASKS tasks at once; each acquire() call runs up to its await here. */
async function slabAcquireWait() {
  for (let i = 0; i < ACQ_TASKS; i++) acqTasks[i] = slabTask();
  if (acqPool.waiters !== ACQ_TASKS - ACQ_MAX) throw new Error(`acquire.slab.wait: ${acqPool.waiters} waiters (expected ${ACQ_TASKS - ACQ_MAX})`);
  let s = 0;
  for (const p of await Promise.all(acqTasks)) s += p;
  sink += s;
}
/** acquire.generic.wait: the same with generic-pool. */
async function genericAcquireWait() {
  for (let i = 0; i < ACQ_TASKS; i++) acqTasks[i] = genericTask();
  if (gp.pending !== ACQ_TASKS - ACQ_MAX) throw new Error(`acquire.generic.wait: ${gp.pending} pending (expected ${ACQ_TASKS - ACQ_MAX})`);
  await Promise.all(acqTasks);
}
/**
 * Ends one call of a deferred case when `work` settles. A rejection is recorded the way
 * benchmark.js records a thrown error (it does not see async ones): the cycle ends at once and
 * the case reports ERROR.
 */
function settle(deferred, work) {
  work.then(() => deferred.resolve(), (e) => {
    deferred.benchmark.error = e;
    deferred.cycles = deferred.benchmark.count; // no further calls in this cycle
    deferred.resolve();
  });
}

// Memory must not grow from here on (the frame case writes through one view taken above,
// record.f32view through this one).
const memBytesBefore = rt.memory.buffer.byteLength;
const f32 = new Float32Array(rt.memory.buffer);
// The same field offsets in f32 elements (every field is 4-byte aligned in the record).
const WX = PX >>> 2;
const WY = PY >>> 2;
const WVX = PVX >>> 2;
const WVY = PVY >>> 2;
for (let i = 0; i < RECORDS; i++) {
  if ((particles[i] >>> 2) + (Particle.size >>> 2) > f32.length) throw new Error('particle outside the f32 view');
}
const jsOut = new Int32Array(BATCH);

let sink = 0; // keeps results observable

// ---------------------------------------------------------------------------------------------
// Cases. `perCall`: objects (ops) per benchmark.js call; results are per op / per object.

const CASES = [
  {
    id: 'frame.ndis', group: 'frame', baseline: 'frame.gc',
    name: 'NdisAllocateNetBufferMdlAndData + NdisFreeNetBuffer (DataSize 1514) + write 1 byte',
    perCall: INNER,
    fn() {
      let c = nbCursor;
      for (let k = 0; k < INNER; k++) {
        c = (c + 1) & (RING - 1);
        rt.NdisFreeNetBuffer(nbRing[c]);
        const nb = rt.NdisAllocateNetBufferMdlAndData(nbPool);
        if (nb === 0) throw new Error('NULL NET_BUFFER');
        mem[nb + DATA] = k;
        nbRing[c] = nb;
      }
      nbCursor = c;
    },
  },
  {
    id: 'frame.gc', group: 'frame', short: 'new Uint8Array(1514)',
    name: `new Uint8Array(1514) + write 1 byte, left to the GC (ring of ${RING} live)`,
    perCall: INNER,
    fn() {
      let c = gcCursor;
      for (let k = 0; k < INNER; k++) {
        c = (c + 1) & (RING - 1);
        const a = new Uint8Array(FRAME);
        a[0] = k;
        gcRing[c] = a;
      }
      gcCursor = c;
    },
  },
  {
    id: 'single.slab', group: 'single', baseline: 'single.js',
    name: 'SlabPool.alloc + SlabPool.free (64-byte objects)',
    perCall: INNER,
    fn() {
      let s = 0;
      for (let k = 0; k < INNER; k++) {
        const p = slab.alloc();
        if (p === 0) throw new Error('SlabPool.alloc returned 0');
        slab.free(p);
        s += p;
      }
      sink += s;
    },
  },
  {
    id: 'single.js', group: 'single', short: 'plain-JS Int32Array pool',
    name: 'plain-JS Int32Array free-list pool: pop + push (64-byte objects)',
    perCall: INNER,
    fn() {
      let s = 0;
      for (let k = 0; k < INNER; k++) {
        const p = jsPool.alloc();
        if (p < 0) throw new Error('JsPool empty');
        jsPool.free(p);
        s += p;
      }
      sink += s;
    },
  },
  {
    id: 'bulk.slab', group: 'bulk', baseline: 'bulk.js',
    name: `SlabPool.allocMany + freeMany, ${BATCH} per call (u32Batch, zero-copy), per object`,
    perCall: BATCH,
    fn() {
      const got = slab.allocMany(batch);
      if (got !== BATCH) throw new Error('allocMany came short');
      slab.freeMany(batch, got);
    },
  },
  {
    id: 'bulk.js', group: 'bulk', short: 'plain-JS pool, 256 pops + 256 pushes',
    name: `plain-JS Int32Array pool: ${BATCH} pops then ${BATCH} pushes, per object`,
    perCall: BATCH,
    fn() {
      for (let k = 0; k < BATCH; k++) {
        const p = jsPool.alloc();
        if (p < 0) throw new Error('JsPool empty');
        jsOut[k] = p;
      }
      for (let k = 0; k < BATCH; k++) jsPool.free(jsOut[k]);
    },
  },
  {
    id: 'nbl.ndis', group: 'nbl', baseline: 'nbl.js',
    name: `NdisAllocateNetBufferList (NB + MDL + ${FRAME} B data) + retreat ${HDR} + advance ${HDR} (FreeMdl) + NdisFreeNetBufferList`,
    perCall: INNER,
    fn() {
      let c = nblCursor;
      for (let k = 0; k < INNER; k++) {
        c = (c + 1) & (RING - 1);
        rt.NdisFreeNetBufferList(nblRing[c]);
        const nbl = rt.NdisAllocateNetBufferList(nblPool, 0, 0);
        if (nbl === 0) throw new Error('NULL NBL');
        const nb = rt.NET_BUFFER_LIST_FIRST_NB(nbl);
        if (rt.NdisRetreatNetBufferDataStart(nb, HDR, 0) !== 0) throw new Error('retreat failed');
        rt.NdisAdvanceNetBufferDataStart(nb, HDR, true);
        nblRing[c] = nbl;
      }
      nblCursor = c;
    },
  },
  {
    id: 'nbl.js', group: 'nbl', short: 'JS objects + Uint8Arrays',
    name: `the same with JS objects and Uint8Arrays left to the GC (ring of ${RING} live)`,
    perCall: INNER,
    fn() {
      let c = jsNblCursor;
      for (let k = 0; k < INNER; k++) {
        c = (c + 1) & (RING - 1);
        const nbl = jsNbl();
        jsRetreat(nbl.nb, HDR);
        jsAdvance(nbl.nb, HDR);
        jsNblRing[c] = nbl;
      }
      jsNblCursor = c;
    },
  },
  {
    id: 'chain.one', group: 'chain', baseline: 'chain.each',
    name: `allocate + link ${CHAIN} NBLs, then freeNetBufferListChain (one call), per NBL`,
    perCall: CHAIN,
    fn() {
      if (rt.freeNetBufferListChain(buildChain()) !== CHAIN) throw new Error('chain free came short');
    },
  },
  {
    id: 'chain.each', group: 'chain', short: `${CHAIN} NdisFreeNetBufferList calls`,
    name: `allocate + link ${CHAIN} NBLs, then ${CHAIN} NdisFreeNetBufferList calls, per NBL`,
    perCall: CHAIN,
    fn() {
      let p = buildChain();
      while (p !== 0) {
        const next = rt.NET_BUFFER_LIST_NEXT_NBL(p);
        rt.NdisFreeNetBufferList(p);
        p = next;
      }
    },
  },
  {
    id: 'packet.ndis', group: 'packet', baseline: 'packet.js',
    name: `NDIS 5: NdisAllocatePacket + 2 NdisAllocateBuffer (${PKT_HDR} + ${FRAME - PKT_HDR} B) + 2 NdisChainBufferAtBack + NdisQueryPacket + 2 unchain + 2 NdisFreeBuffer + NdisFreePacket`,
    perCall: INNER,
    fn() {
      let s = 0;
      for (let k = 0; k < INNER; k++) s += packetCycle();
      sink += s;
    },
  },
  {
    id: 'packet.js', group: 'packet', short: 'JS packet + buffer objects',
    name: 'the same with a JS packet object (buffer array, counts) and {va, length} buffer objects left to the GC',
    perCall: INNER,
    fn() {
      let s = 0;
      for (let k = 0; k < INNER; k++) s += jsPacketCycle();
      sink += s;
    },
  },
  {
    id: 'ring.ndis', group: 'ring', baseline: 'ring.js',
    name: `DescriptorRing.enqueueBurst + dequeueBurst, ${RING_BURST} descriptors per call (u32Batch), per descriptor`,
    perCall: RING_BURST,
    fn() {
      if (descRing.enqueueBurst(ringBatch, RING_BURST) !== RING_BURST) throw new Error('ring enqueue came short');
      if (descRing.dequeueBurst(ringBatch, RING_BURST) !== RING_BURST) throw new Error('ring dequeue came short');
    },
  },
  {
    id: 'ring.js', group: 'ring', short: 'plain-JS Uint32Array ring',
    name: `plain-JS Uint32Array ring: the same bursts of ${RING_BURST}, per descriptor`,
    perCall: RING_BURST,
    fn() {
      if (jsRing.enqueueBurst(jsRingBuf, RING_BURST) !== RING_BURST) throw new Error('js ring enqueue came short');
      if (jsRing.dequeueBurst(jsRingBuf, RING_BURST) !== RING_BURST) throw new Error('js ring dequeue came short');
    },
  },
  {
    id: 'record.accessors', group: 'record', baseline: 'record.objects',
    name: `typed record in a SlabPool: read x, y, vx, vy, write x += vx, y += vy via Particle.fields.*.get / .set, ${RECORDS} particles per call, per particle`,
    perCall: RECORDS,
    fn() {
      let s = 0;
      for (let i = 0; i < RECORDS; i++) {
        const p = particles[i];
        const x = Particle.fields.x.get(p);
        const y = Particle.fields.y.get(p);
        const vx = Particle.fields.vx.get(p);
        const vy = Particle.fields.vy.get(p);
        Particle.fields.x.set(p, x + vx);
        Particle.fields.y.set(p, y + vy);
        s += x + y;
      }
      sink += s;
    },
  },
  {
    id: 'record.objects', group: 'record', short: 'plain JS objects',
    name: `the same update on ${RECORDS} plain JS objects {x, y, vx, vy, id} (class instances), per particle`,
    perCall: RECORDS,
    fn() {
      let s = 0;
      for (let i = 0; i < RECORDS; i++) {
        const o = jsParticles[i];
        const x = o.x;
        const y = o.y;
        o.x = x + o.vx;
        o.y = y + o.vy;
        s += x + y;
      }
      sink += s;
    },
  },
  {
    id: 'record.dataview', group: 'record', short: 'a DataView',
    name: `the same update through a DataView over an ArrayBuffer with the record's layout (little-endian, ${Particle.size}-byte records), per particle`,
    perCall: RECORDS,
    fn() {
      let s = 0;
      for (let i = 0; i < RECORDS; i++) {
        const o = i * Particle.size;
        const x = dvParticles.getFloat32(o + PX, true);
        const y = dvParticles.getFloat32(o + PY, true);
        const vx = dvParticles.getFloat32(o + PVX, true);
        const vy = dvParticles.getFloat32(o + PVY, true);
        dvParticles.setFloat32(o + PX, x + vx, true);
        dvParticles.setFloat32(o + PY, y + vy, true);
        s += x + y;
      }
      sink += s;
    },
  },
  {
    id: 'record.f32view', group: 'record', reference: true, baseline: 'record.objects',
    name: 'reference: the same update on the SlabPool records through a raw Float32Array view of linear memory ((p >>> 2) + field offset), per particle',
    perCall: RECORDS,
    fn() {
      let s = 0;
      for (let i = 0; i < RECORDS; i++) {
        const w = particles[i] >>> 2;
        const x = f32[w + WX];
        const y = f32[w + WY];
        f32[w + WX] = x + f32[w + WVX];
        f32[w + WY] = y + f32[w + WVY];
        s += x + y;
      }
      sink += s;
    },
  },
  {
    id: 'acquire.slab', group: 'acquire', baseline: 'acquire.generic',
    name: `await SlabPool.acquire() + free, ${ACQ_INNER} sequential pairs per call (64-byte objects, maxOutstanding ${ACQ_MAX}, no waiters), per pair`,
    perCall: ACQ_INNER,
    defer: true,
    fn(deferred) {
      settle(deferred, slabAcquireSeq());
    },
  },
  {
    id: 'acquire.generic', group: 'acquire', short: 'generic-pool',
    name: `generic-pool 3 (max ${ACQ_MAX}, min ${ACQ_MAX}, warmed up): await acquire() + await release(), ${ACQ_INNER} sequential pairs per call, per pair`,
    perCall: ACQ_INNER,
    defer: true,
    fn(deferred) {
      settle(deferred, genericAcquireSeq());
    },
  },
  {
    id: 'acquire.slab.wait', group: 'acquire', baseline: 'acquire.generic.wait',
    name: `${ACQ_TASKS} concurrent tasks, each await SlabPool.acquire() then free, on the same pool (maxOutstanding ${ACQ_MAX}: ${ACQ_TASKS - ACQ_MAX} wait), per pair`,
    perCall: ACQ_TASKS,
    defer: true,
    fn(deferred) {
      settle(deferred, slabAcquireWait());
    },
  },
  {
    id: 'acquire.generic.wait', group: 'acquire', short: 'generic-pool, 16 waiting',
    name: `the same ${ACQ_TASKS} concurrent tasks with generic-pool (max ${ACQ_MAX}: ${ACQ_TASKS - ACQ_MAX} wait), await acquire() then await release(), per pair`,
    perCall: ACQ_TASKS,
    defer: true,
    fn(deferred) {
      settle(deferred, genericAcquireWait());
    },
  },
  {
    id: 'verifier.frame', group: 'verifier', baseline: 'verifier.plain',
    name: 'verifier mode: NdisFreeNetBuffer + NdisAllocateNetBufferMdlAndData (1514 B), 1024 live',
    perCall: INNER,
    fn() {
      verifierFrame();
    },
  },
  {
    id: 'verifier.plain', group: 'verifier', short: 'the same on a normal runtime',
    name: 'normal runtime: NdisFreeNetBuffer + NdisAllocateNetBufferMdlAndData (1514 B), 1024 live',
    perCall: INNER,
    fn() {
      plainFrame();
    },
  },
  {
    id: 'vnic.64', group: 'vnic', reference: true,
    name: 'vNIC loopback, 64-byte frames, bursts of 64: send → hub → indicate → return, per frame',
    perCall: 64,
    fn() {
      sink += loop64.round();
    },
  },
  {
    id: 'vnic.1514', group: 'vnic', reference: true,
    name: 'vNIC loopback, 1514-byte frames, bursts of 64: send → hub → indicate → return, per frame',
    perCall: 64,
    fn() {
      sink += loop1514.round();
    },
  },
  {
    id: 'gen.handles', group: 'gen', baseline: 'gen.plain',
    name: "generational SlabPool (handles: 'generational'): alloc + free (64-byte objects)",
    perCall: INNER,
    fn() {
      let s = 0;
      for (let k = 0; k < INNER; k++) {
        const h = genPool.alloc();
        if (h === 0) throw new Error('generational alloc returned 0');
        genPool.free(h);
        s += h;
      }
      sink += s;
    },
  },
  {
    id: 'gen.plain', group: 'gen', short: 'pointer SlabPool',
    name: 'pointer SlabPool: alloc + free (64-byte objects)',
    perCall: INNER,
    fn() {
      let s = 0;
      for (let k = 0; k < INNER; k++) {
        const p = genTwin.alloc();
        if (p === 0) throw new Error('SlabPool.alloc returned 0');
        genTwin.free(p);
        s += p;
      }
      sink += s;
    },
  },
  {
    id: 'gen.ptr', group: 'gen', reference: true,
    name: 'reference: pool.ptr(handle) of 1024 live generational handles, per lookup',
    perCall: 1024,
    fn() {
      let s = 0;
      for (let k = 0; k < 1024; k++) s += genPool.ptr(genLive[k]);
      sink += s;
    },
  },
  {
    id: 'ref.nop', group: 'single', reference: true,
    name: 'reference: empty JS->Wasm call (runtime.wasm.nop), per call',
    perCall: INNER,
    fn() {
      let s = 0;
      for (let k = 0; k < INNER; k++) s += wasm.nop(k);
      sink += s;
    },
  },
  {
    id: 'ref.wasm', group: 'bulk', reference: true, baseline: 'bulk.js',
    name: `reference: in-Wasm loop limit (benchAllocFreeLoop, batch ${BATCH}), per object`,
    perCall: WASM_ROUNDS * BATCH,
    fn() {
      if (wasm.benchAllocFreeLoop(slab.handle, WASM_ROUNDS, BATCH, scratchAddr) !== 0) {
        throw new Error('benchAllocFreeLoop: allocation failures');
      }
    },
  },
];
const byId = new Map(CASES.map((c) => [c.id, c]));

// Selection: matching cases plus the baselines they are compared with.
const selected = new Set();
for (const c of CASES) {
  if (!filter || filter.test(c.id) || filter.test(c.name)) {
    selected.add(c.id);
    if (c.baseline) selected.add(c.baseline);
  }
}
if (selected.size === 0) {
  console.error(`--filter ${args.filter} matches no case. Cases: ${CASES.map((c) => c.id).join(', ')}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Header: machine and command

const cpus = os.cpus();
const via = process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : null;
const argv = process.argv.slice(2);
const direct = ['node', ...process.execArgv, path.relative(process.cwd(), process.argv[1]) || process.argv[1], ...argv].join(' ');
const command = via ? `${via}${argv.length ? ` -- ${argv.join(' ')}` : ''}   (npm build, then: ${direct})` : direct;
const machine = {
  cpu: cpus[0]?.model ?? 'unknown',
  cores: cpus.length,
  node: process.version,
  v8: process.versions.v8,
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
};
const started = new Date();
console.log('ndis-pool benchmarks (benchmark.js %s)', Benchmark.version);
console.log(`date:    ${started.toISOString()}`);
console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}`);
console.log(`node:    ${machine.node} (V8 ${machine.v8})`);
console.log(`command: ${command}`);
console.log(`options: maxTime ${MAX_TIME} s per case${args.quick ? ' (--quick)' : ''}; runtime memory ${rt.sharedMemory ? 'shared' : 'plain'}, verifier ${rt.verifier ? 'on' : 'off'}`);
if (filter) console.log(`filter:  /${args.filter}/i -> ${[...selected].join(', ')}`);
console.log('');

// ---------------------------------------------------------------------------------------------
// Run: one benchmark.js suite per group, each case right before its baseline.

/** Runs a suite and resolves when it completes. */
function runSuite(suite) {
  return new Promise((resolve) => {
    suite.on('complete', resolve);
    suite.run({ async: false });
  });
}

const results = new Map();
let failed = false;
for (const group of ['frame', 'nbl', 'chain', 'packet', 'ring', 'vnic', 'verifier', 'single', 'bulk', 'gen', 'record', 'acquire']) {
  const cases = CASES.filter((c) => c.group === group && selected.has(c.id));
  if (cases.length === 0) continue;
  const suite = new Benchmark.Suite(group);
  for (const c of cases) {
    // No setup/teardown: benchmark.js then calls c.fn() in its timed loop (no decompilation).
    // Deferred cases (acquire.*) get a Deferred and end each call with deferred.resolve().
    suite.add(c.id, c.fn, { maxTime: MAX_TIME, defer: !!c.defer });
  }
  suite.on('cycle', (ev) => {
    const b = ev.target;
    const c = byId.get(b.name);
    if (b.error) {
      failed = true;
      console.error(`  ${c.id}: ERROR ${b.error.message ?? b.error}`);
      return;
    }
    const s = b.stats;
    const r = {
      id: c.id,
      name: c.name,
      group: c.group,
      reference: !!c.reference,
      baseline: c.baseline ?? null,
      perCall: c.perCall,
      nsPerOp: (s.mean * 1e9) / c.perCall,
      rmePercent: s.rme,
      samples: s.sample.length,
      callsPerSecond: b.hz,
      opsPerSecond: b.hz * c.perCall,
      cycles: b.cycles,
      elapsedSeconds: b.times.elapsed,
    };
    results.set(c.id, r);
    console.log(`  ${c.id.padEnd(20)} ${fmtNs(r.nsPerOp).padStart(10)} ns/op  ±${r.rmePercent.toFixed(2)}%  (${r.samples} samples)`);
  });
  console.log(`suite ${group}: ${cases.map((c) => c.id).join(', ')}`);
  await runSuite(suite);
}

// Ratios: ndis-pool time / baseline time, and a rough uncertainty from both rme.
for (const r of results.values()) {
  const base = r.baseline ? results.get(r.baseline) : undefined;
  if (!base) {
    r.ratio = null;
    continue;
  }
  r.ratio = r.nsPerOp / base.nsPerOp;
  r.ratioRmePercent = Math.hypot(r.rmePercent, base.rmePercent);
}

// Sanity (checked before anything below can reserve memory): linear memory did not grow, so
// the frame view stayed valid; then the pools are as we left them.
const notes = [];
if (rt.memory.buffer.byteLength !== memBytesBefore) {
  notes.push(`linear memory grew during the runs (${memBytesBefore} -> ${rt.memory.buffer.byteLength} bytes)`);
}
for (let i = 0; i < RING; i++) {
  if (nbRing[i] + DATA + FRAME > mem.length) {
    failed = true;
    notes.push(`frame ${i} at 0x${nbRing[i].toString(16)} lies outside the memory view: frame.ndis wrote nothing for it`);
    break;
  }
}
const nbRow = rt.poolmon().find((row) => row.tag === 'Bnch' && row.type === 'NB');
if (!nbRow || nbRow.outstanding !== RING) {
  failed = true;
  notes.push(`NB pool: ${nbRow?.outstanding} NET_BUFFERs outstanding after the runs (expected ${RING})`);
}
const packetsOut = rt.NdisPacketPoolUsage(packetPool);
if (packetsOut !== 0) {
  failed = true;
  notes.push(`packet pool: ${packetsOut} packets outstanding after the runs (expected 0)`);
}
const slabOut = slab.stats().outstanding;
if (slabOut !== 0) {
  failed = true;
  notes.push(`SlabPool: ${slabOut} objects outstanding after the runs (expected 0)`);
}
const partOut = particlePool.stats().outstanding;
if (partOut !== RECORDS) {
  failed = true;
  notes.push(`record SlabPool: ${partOut} particles outstanding after the runs (expected ${RECORDS})`);
}
const acqStats = acqPool.stats();
if (acqStats.outstanding !== 0 || acqStats.waiters !== 0) {
  failed = true;
  notes.push(`acquire SlabPool: ${acqStats.outstanding} outstanding, ${acqStats.waiters} waiting after the runs (expected 0, 0)`);
}
if (gp.borrowed !== 0 || gp.pending !== 0) {
  failed = true;
  notes.push(`generic-pool: ${gp.borrowed} borrowed, ${gp.pending} pending after the runs (expected 0, 0)`);
} else {
  // It holds no timers (no eviction runs), but let it go cleanly. Only when nothing is
  // borrowed: drain() waits for every borrowed resource to come back.
  await gp.drain();
  await gp.clear();
}

// ---------------------------------------------------------------------------------------------
// Report

function fmtNs(ns) {
  return ns >= 100 ? ns.toFixed(1) : ns >= 10 ? ns.toFixed(2) : ns.toFixed(3);
}
function fmtRatio(x) {
  return x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(2);
}
function ratioText(r) {
  if (r.ratio === null || r.ratio === undefined) return r.reference ? '(reference, no baseline)' : r.baseline ? '(baseline not run)' : 'baseline';
  const base = byId.get(r.baseline);
  const speed = r.ratio < 1 ? `${fmtRatio(1 / r.ratio)}x faster` : `${fmtRatio(r.ratio)}x slower`;
  return `${fmtRatio(r.ratio)}x the time of ${base.short} (${speed}; ±${r.ratioRmePercent.toFixed(0)}%)`;
}

const table = new Table({
  head: ['case', 'ns/op', '±%', 'samples', 'ratio = ndis-pool time / baseline time'],
  colAligns: ['left', 'right', 'right', 'right', 'left'],
  colWidths: [64, 10, 7, 9, 46],
  wordWrap: true,
  style: { head: [], border: [] },
});
for (const c of CASES) {
  const r = results.get(c.id);
  if (!r) continue;
  table.push([
    `${c.id}: ${c.name}`,
    fmtNs(r.nsPerOp),
    r.rmePercent.toFixed(2),
    String(r.samples),
    ratioText(r),
  ]);
}
console.log('');
console.log(table.toString());
console.log(`ns/op: mean time per operation (per object for bulk.* and ref.wasm; one op = one allocate + one free,
  for frame.* also the 1-byte write; frame.gc "frees" by dropping the oldest of ${RING} live frames;
  for packet.* one op is one whole packet cycle: a packet and 2 buffers allocated, chained, queried, unchained, freed).
±%: benchmark.js relative margin of error (95%) of the mean. samples: benchmark.js samples.
ratio: ndis-pool time / baseline time, measured back-to-back in this process; < 1 means ndis-pool is faster;
  its ± combines both cases' rme (root of the sum of squares). ref.wasm is compared with bulk.js;
  ref.nop is the cost of one JS->Wasm call (SlabPool.alloc + free make 2 such calls).
record.*: one op is one particle updated (4 f32 reads, 2 f32 writes); record.dataview is a second baseline
  and record.f32view (compared with record.objects) the raw-view limit: the accessors' overhead is
  record.accessors / record.f32view. acquire.*: one op is one acquire + one release (awaited, in deferred
  benchmark.js cases); *.wait run ${ACQ_TASKS} at once on a limit of ${ACQ_MAX}, so ${ACQ_TASKS - ACQ_MAX} wait for a release.`);

const finished = new Date();
const totalSeconds = (finished.getTime() - started.getTime()) / 1000;
for (const n of notes) console.log(`NOTE: ${n}`);
console.log(`\ntotal ${totalSeconds.toFixed(1)} s`);

if (args.json) {
  const out = {
    tool: 'ndis-pool bench',
    benchmarkJs: Benchmark.version,
    date: started.toISOString(),
    totalSeconds,
    machine,
    command,
    argv,
    options: { quick: args.quick, filter: args.filter ?? null, maxTime: MAX_TIME, inner: INNER, batch: BATCH, wasmRounds: WASM_ROUNDS, ring: RING, frameBytes: FRAME, records: RECORDS, acquireInner: ACQ_INNER, acquireTasks: ACQ_TASKS, acquireMax: ACQ_MAX },
    ratioDefinition: 'nsPerOp(case) / nsPerOp(baseline); < 1 means the ndis-pool case is faster',
    results: CASES.filter((c) => results.has(c.id)).map((c) => results.get(c.id)),
    notes,
    sink,
  };
  writeFileSync(args.json, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${args.json}`);
}
if (failed) process.exitCode = 1;
