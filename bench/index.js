/**
 * ndis-pool benchmark suite (`npm run bench`, or `node bench/index.js` after `npm run build`).
 *
 * benchmark.js 2.x suites, all in ONE process. Each ndis-pool case runs back-to-back with its
 * baseline (same suite, right after it), and the table reports
 *
 *   ratio = ndis-pool time per op / baseline time per op     (< 1: ndis-pool is faster)
 *
 * A case may have several baselines (`baseline: [...]`): the table gives one ratio per baseline,
 * the JSON a `ratios` list (and `baseline`/`ratio` for the first one).
 *
 * One runtime serves every case but the verifier group's: a second runtime's Wasm functions
 * reached through the same RuntimeCore / SlabPool methods give V8 two call targets at each call
 * site, and it stops inlining the JS->Wasm calls (frame.ndis then takes about twice as long).
 * The verifier group makes its two runtimes when it starts, and runs last.
 *
 * Cases (ids are what --filter matches, together with the names):
 *   frame.ndis   NdisAllocateNetBufferMdlAndData + NdisFreeNetBuffer, pool DataSize 1514
 *   frame.gc     baseline: new Uint8Array(1514) left to the GC
 *   frame.buffer baseline: Buffer.allocUnsafe(1514) (Node's pooled, non-zeroed buffers), left to
 *                the GC (skipped where there is no Buffer)
 *   frame.bulk.api   the bulk calls: runtime.allocateNetBuffersMdlAndData of 64, then
 *                runtime.freeNetBuffers of them (one boundary crossing each), per frame
 *   frame.bulk.ndis  bulk form of the NDIS calls: 64 NdisAllocateNetBufferMdlAndData then 64
 *                NdisFreeNetBuffer per call (NDIS has no bulk NET_BUFFER call), per frame
 *   frame.bulk.nbl   bulk form through NBLs: 64 NdisAllocateNetBufferList (NB + MDL + 1514 B
 *                preallocated) + link, then one freeNetBufferListChain, per frame
 *                (both bulk forms against frame.gc and frame.buffer)
 *   single.slab  SlabPool.alloc + SlabPool.free, 64-byte objects
 *   single.js    baseline: plain-JS Int32Array free-list pool, pop + push
 *   single.jsc   baseline: the same JS list with SlabPool.free's checks (u32, range, alignment,
 *                double free through a state byte per slot; bench/baselines.js)
 *   single.malloc  baseline: @thi.ng/malloc MemPool malloc(64) + free
 *   single.u     SlabPool with checked: false (frees trust the caller, DESIGN D6): alloc + free
 *   bulk.slab    SlabPool.allocMany + freeMany, 256 at a time through a u32Batch (zero-copy)
 *   bulk.js      baseline: the same plain-JS pool, 256 pops then 256 pushes
 *   bulk.jsc     baseline: the checked JS list, allocMany(256) + freeMany (all or nothing)
 *   bulk.malloc  baseline: 256 MemPool mallocs, then 256 frees (newest first: MemPool.free
 *                searches its used list from the newest block, so this is its best case)
 *   bulk.u       SlabPool with checked: false: allocMany + freeMany of 256, against bulk.js and
 *                ref.wasm
 *   bulk32.*     the same four at 32 objects per call
 *   size16.*, size256.*, size2048.*  SlabPool at 16, 256 and 2048-byte objects: .one (alloc +
 *                free), .b32 and .b256 (allocMany + freeMany of 32 / 256), each against the checked
 *                JS list (.jsc) and MemPool (.malloc) of that size (the plain JS list does not
 *                depend on the object size: single.js / bulk32.js / bulk.js)
 *   scale.1e3    SlabPool (64-byte objects) holding 10^3 live objects: free the
 *                oldest live object, allocate one (a ring over all of them), per pair
 *   scale.1e5, scale.1e6  the same with 10^5 / 10^6 live objects, against scale.1e3 (O(1): the
 *                ratio should stay near 1)
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
 *   verifier.plain  baseline: the same loop on a normal runtime of its own (both runtimes are made
 *                when the group starts, after every other group)
 *   vnic.64      vNIC loopback, 64-byte frames: NdisSendNetBufferLists → virtual miniport → hub DPC in Wasm
 *                → send-complete + NdisMIndicateReceiveNetBufferLists → NdisReturnNetBufferLists, bursts
 *                of 64 between two virtual adapters (bench/vnic.js) in the main runtime, per frame
 *                (reference: no JS twin)
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
 *   ref.pair     reference: two empty JS->Wasm calls (an alloc + free pair's boundary cost);
 *                a baseline of single.slab
 *   ref.wasm     reference: benchAllocFreeLoop, the same allocMany(256) + freeMany(256) entirely
 *                in Wasm and unvalidated (the checked: false free), the limit of the bulk path;
 *                a baseline of bulk.slab and bulk.u
 *
 * Not timed by benchmark.js, printed after the table and written to the JSON (filter ids in
 * brackets; --filter picks them like cases):
 *   memory overhead [memory.1e6]  bytes per live object at 10^6 live 64-byte objects (the
 *                scale.1e6 pool): the pool's slab bytes (metadata included) and the growth of
 *                linear memory (from runtime.memoryReport() / memoryUsage())
 *   JS heap growth [heap.slab, heap.bulk, heap.frame]  process.memoryUsage().heapUsed before and
 *                after 10^7 hot-path operations (SlabPool.alloc + free; allocMany + freeMany of
 *                256; NdisAllocateNetBufferMdlAndData + NdisFreeNetBuffer), with a full GC
 *                before each reading, and the GCs that ran during the loop: both should be ~0.
 *                The GC is global.gc under node --expose-gc, else obtained through
 *                v8.setFlagsFromString('--expose-gc'); without either, the readings are not
 *                after a GC (printed so).
 *
 * Options:
 *   --quick             short maxTime per case, every case still runs (whole run < 1 min)
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
import { PerformanceObserver, performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import genericPool from 'generic-pool';
import { MemPool } from '@thi.ng/malloc';
import {
  MDL_AND_DATA_LAYOUT, NDIS_OBJECT_TYPE_DEFAULT, NET_BUFFER_POOL_PARAMETERS_REVISION_1,
  NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1, POOL_TAG, NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
  NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, NDIS_STATUS_SUCCESS, NormalPoolPriority,
} from '../build/ts/index.js';
import { createRuntime, createRuntimeSync } from '../build/ts/runtime.js';
import { makeLoopback } from './vnic.js';
import { JsCheckedPool } from './baselines.js';

// ---------------------------------------------------------------------------------------------
// Command line

const USAGE = `usage: node bench/index.js [--quick] [--filter <regex>] [--json <file>]
  (or: npm run bench -- [options], which builds first)
  --quick           short run (under 1 s per case, < 1 min in all)
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

/**
 * Seconds of sampling per case (benchmark.js maxTime; it also takes >= 5 samples of >= 50 ms,
 * and calibrates first, so a case takes about maxTime + 0.5 s). With ~75 cases: a full run of
 * about 8 minutes, a quick one under a minute.
 */
const MAX_TIME = args.quick ? 0.25 : 5.5;
/** --quick: shorter samples than benchmark.js's 50 ms default (still >> the timer resolution). */
const MIN_TIME = args.quick ? 0.03 : undefined;

// ---------------------------------------------------------------------------------------------
// Setup

/** Single-object cases do this many ops per benchmark.js call, to keep the call overhead small. */
const INNER = 64;
/** Objects per bulk call. */
const BATCH = 256;
/** Rounds of benchAllocFreeLoop per call (each round: allocMany(256) + freeMany(256)). */
const WASM_ROUNDS = 16;
/** Live frames on each side of the frame comparison (a ring; each op replaces one). */
const RING = 1024;
const FRAME = 1514;

const rt = createRuntimeSync();

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
// The same with checked: false (frees trust the caller).
const slabU = rt.createSlabPool({ objectSize: 64, tag: 'BnUc', checked: false });
const batchU = rt.u32Batch(BATCH);
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
// Made when the verifier group starts (it runs last): while a second runtime's Wasm functions go
// through the same RuntimeCore methods, V8 sees two call targets at each of their call sites
// and stops inlining the JS->Wasm calls, which slows every NDIS case (frame.ndis about 2x).
let verifierFrame = null;
let plainFrame = null;
/** Before the suites of these groups run (once, only when one of their cases is selected). */
// (No await at the top level before the cases run: V8 reads module variables declared after
// one more slowly, in every case that uses them. In a small benchmark.js script, single.slab
// took 13.8 ns with the pool declared after an await and 10.4 ns without.)
const GROUP_SETUP = {
  acquire: () => warmGenericPool(),
  async verifier() {
    verifierFrame = frameLoop(await createRuntime({ verifier: true }));
    plainFrame = frameLoop(await createRuntime());
  },
};
// vNIC loopback: two adapters on a hub, bursts of 64 frames, in the main runtime (a runtime of
// its own would be a second call target, as above).
const loop64 = makeLoopback(rt, 64);
const loop1514 = makeLoopback(rt, 1514);
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

// Check that the ring's frames lie in linear memory (the frame cases write through memNow,
// taken below once every pool is warm).
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
/** Warms generic-pool (GROUP_SETUP.acquire): its min resources exist, each borrowed and released once. */
async function warmGenericPool() {
  await gp.ready();
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

// ---------------------------------------------------------------------------------------------
// Baselines and cases of issue 8: Buffer.allocUnsafe, the bulk frame forms, the checked JS list,
// @thi.ng/malloc, object sizes 16 .. 2048, scaling with the live count, heap growth, memory.

/** Node's Buffer (frame.buffer is skipped without it). */
const NodeBuffer = typeof globalThis.Buffer === 'function' && typeof globalThis.Buffer.allocUnsafe === 'function' ? globalThis.Buffer : null;
const bufRing = new Array(RING);
if (NodeBuffer) for (let i = 0; i < RING; i++) bufRing[i] = NodeBuffer.allocUnsafe(FRAME);
let bufCursor = 0;

// Bulk frames: 64 at a time, from the frame case's NB pool and the NBL case's pool (each keeps
// its ring of RING live objects; the bulk objects come on top of them).
const FRAME_BULK = 64;
const nbBulk = new Uint32Array(FRAME_BULK);
/** The bulk NB calls' list (a u32Batch: zero-copy). */
const nbBatch = rt.u32Batch(FRAME_BULK);
const nblBulk = new Uint32Array(FRAME_BULK);
/** Allocates FRAME_BULK NBLs (NB + MDL + 1514 B each) from nblPool and links them; returns the head. */
function buildFrameChain() {
  for (let i = 0; i < FRAME_BULK; i++) {
    const nbl = rt.NdisAllocateNetBufferList(nblPool, 0, 0);
    if (nbl === 0) throw new Error('NULL NBL');
    nblBulk[i] = nbl;
  }
  for (let i = 0; i < FRAME_BULK - 1; i++) rt.NET_BUFFER_LIST_NEXT_NBL_SET(nblBulk[i], nblBulk[i + 1]);
  return nblBulk[0];
}
{ // warm both: their slabs exist before memory is measured
  for (let i = 0; i < FRAME_BULK; i++) nbBulk[i] = rt.NdisAllocateNetBufferMdlAndData(nbPool);
  if (nbBulk.includes(0)) throw new Error('NdisAllocateNetBufferMdlAndData returned NULL (bulk warm-up)');
  for (let i = 0; i < FRAME_BULK; i++) rt.NdisFreeNetBuffer(nbBulk[i]);
  if (rt.allocateNetBuffersMdlAndData(nbPool, nbBatch) !== FRAME_BULK) throw new Error('allocateNetBuffersMdlAndData came short (bulk warm-up)');
  rt.freeNetBuffers(nbBatch);
  if (rt.freeNetBufferListChain(buildFrameChain()) !== FRAME_BULK) throw new Error('chain free came short (bulk warm-up)');
}

/** Object sizes of the slab cases; 64 is single.* / bulk.* / bulk32.*, the others size<N>.*. */
const SIZES = [16, 64, 256, 2048];
/** Objects per call of the smaller bulk form. */
const BATCH32 = 32;
const batch32 = rt.u32Batch(BATCH32);
/** Per size: a SlabPool (the 64-byte one is `slab`), the checked JS list, a MemPool. */
const sized = new Map();
for (const size of SIZES) {
  const pool = size === 64 ? slab : rt.createSlabPool({ objectSize: size, tag: `S${size >= 1024 ? `${size / 1024}K` : size}` });
  if (!pool) throw new Error(`createSlabPool(${size}) returned null`);
  if (pool.allocMany(batch) !== BATCH) throw new Error(`allocMany(${size}) could not warm the pool`);
  pool.freeMany(batch);
  const mp = new MemPool({ size: Math.max(1 << 20, 2 * BATCH * (size + 16)) });
  sized.set(size, { pool, jsc: new JsCheckedPool(size, 4096), mp });
}
const jscOut = new Int32Array(BATCH);
const mallocOut = new Uint32Array(BATCH);

/** SlabPool.alloc + free, INNER pairs per call. */
function slabOne(pool) {
  return () => {
    let s = 0;
    for (let k = 0; k < INNER; k++) {
      const p = pool.alloc();
      if (p === 0) throw new Error('SlabPool.alloc returned 0');
      pool.free(p);
      s += p;
    }
    sink += s;
  };
}
/** SlabPool.allocMany + freeMany of a whole u32Batch. */
function slabBulk(pool, b) {
  const n = b.length;
  return () => {
    const got = pool.allocMany(b);
    if (got !== n) throw new Error('allocMany came short');
    pool.freeMany(b, got);
  };
}
/** JsCheckedPool alloc + free, INNER pairs per call. */
function jscOne(jp) {
  return () => {
    let s = 0;
    for (let k = 0; k < INNER; k++) {
      const p = jp.alloc();
      if (p < 0) throw new Error('JsCheckedPool empty');
      jp.free(p);
      s += p;
    }
    sink += s;
  };
}
/** JsCheckedPool allocMany(n) + freeMany(n). */
function jscBulk(jp, n) {
  return () => {
    if (jp.allocMany(jscOut, n) !== n) throw new Error('JsCheckedPool.allocMany came short');
    jp.freeMany(jscOut, n);
  };
}
/** The plain JS list (jsPool, 64-byte slots): n pops, then n pushes. */
function jsBulk(n) {
  return () => {
    for (let k = 0; k < n; k++) {
      const p = jsPool.alloc();
      if (p < 0) throw new Error('JsPool empty');
      jsOut[k] = p;
    }
    for (let k = 0; k < n; k++) jsPool.free(jsOut[k]);
  };
}
/** MemPool malloc(size) + free, INNER pairs per call. */
function mallocOne(mp, size) {
  return () => {
    let s = 0;
    for (let k = 0; k < INNER; k++) {
      const p = mp.malloc(size);
      if (p === 0) throw new Error('MemPool.malloc returned 0');
      if (!mp.free(p)) throw new Error('MemPool.free failed');
      s += p;
    }
    sink += s;
  };
}
/** n MemPool mallocs, then n frees, newest first (MemPool.free's best case). */
function mallocBulk(mp, size, n) {
  return () => {
    for (let k = 0; k < n; k++) {
      const p = mp.malloc(size);
      if (p === 0) throw new Error('MemPool.malloc returned 0');
      mallocOut[k] = p;
    }
    for (let k = n - 1; k >= 0; k--) if (!mp.free(mallocOut[k])) throw new Error('MemPool.free failed');
  };
}

// Scaling: a SlabPool of 64-byte objects holding N live objects. One op frees the oldest live
// object and allocates one. The pools are in the main runtime: a pool of another runtime would
// give SlabPool.alloc/free's call sites a second Wasm target (another instance's spAlloc), and
// V8 then stops inlining the JS->Wasm call for every SlabPool case.
const SCALES = [
  { id: 'scale.1e3', label: '10^3', live: 1e3 },
  { id: 'scale.1e5', label: '10^5', live: 1e5 },
  { id: 'scale.1e6', label: '10^6', live: 1e6 },
];
const scaleBatch = rt.u32Batch(4096);
for (const sc of SCALES) {
  sc.memoryBefore = rt.memoryUsage(); // before the pool exists
  // cache: false: these cases measure the slab allocator's O(1) (slab table, per-slab stacks).
  // The cache in front of it hits more or less often with this pattern depending on how the N
  // objects' slabs line up with the pool's current slab (docs/PERFORMANCE.md has those figures).
  const pool = rt.createSlabPool({ objectSize: 64, tag: `Sc${Math.log10(sc.live)}`, cache: false });
  if (!pool) throw new Error('createSlabPool (scale) returned null');
  const live = new Uint32Array(sc.live);
  for (let n = 0; n < sc.live;) {
    const got = pool.allocMany(scaleBatch.subarray(0, Math.min(scaleBatch.length, sc.live - n)));
    if (got === 0) throw new Error(`scale: only ${n} of ${sc.live} objects allocated`);
    live.set(scaleBatch.subarray(0, got), n);
    n += got;
  }
  { // one op, so the steady state's spare slot exists before memory is measured
    pool.free(live[0]);
    live[0] = pool.alloc();
  }
  sc.memoryAfter = rt.memoryUsage();
  sc.pool = pool;
  sc.ring = live;
  sc.cursor = 0;
}
/** free the oldest of sc.live, allocate one; INNER per call. */
function scaleOp(sc) {
  const pool = sc.pool;
  const live = sc.ring;
  const n = live.length;
  return () => {
    let c = sc.cursor;
    let s = 0;
    for (let k = 0; k < INNER; k++) {
      if (++c === n) c = 0;
      pool.free(live[c]);
      const p = pool.alloc();
      if (p === 0) throw new Error('SlabPool.alloc returned 0');
      live[c] = p;
      s += p;
    }
    sc.cursor = c;
    sink += s;
  };
}

/**
 * A function that runs a full GC: global.gc (node --expose-gc), else one obtained through
 * v8.setFlagsFromString('--expose-gc'), else null.
 */
function getGc() {
  if (typeof globalThis.gc === 'function') return { fn: globalThis.gc, how: 'full GC before each reading (global.gc: node --expose-gc)' };
  try {
    v8.setFlagsFromString('--expose-gc');
    const fn = vm.runInNewContext('gc');
    if (typeof fn === 'function') return { fn, how: "full GC before each reading (gc from v8.setFlagsFromString('--expose-gc'))" };
  } catch {
    // fall through
  }
  return { fn: null, how: 'NO GC available: the readings are not after a GC' };
}

/**
 * Runs body(ops) (after a warm-up of body(1e5)) and measures process.memoryUsage().heapUsed
 * before and after it, each after a full GC when `gc` is given, and the GCs that ran during it.
 */
async function heapGrowth(body, ops, gc) {
  sink += body(Math.min(ops, 1e5));
  const events = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) events.push({ startTime: e.startTime, kind: e.detail?.kind ?? e.kind });
  });
  obs.observe({ entryTypes: ['gc'] });
  if (gc) { gc(); gc(); }
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  sink += body(ops);
  const t1 = performance.now();
  const rightAfter = process.memoryUsage().heapUsed;
  if (gc) { gc(); gc(); }
  const after = process.memoryUsage().heapUsed;
  await new Promise((resolve) => setTimeout(resolve, 50)); // GC entries arrive asynchronously
  obs.disconnect();
  const during = events.filter((e) => e.startTime >= t0 && e.startTime < t1);
  return {
    ops,
    seconds: (t1 - t0) / 1000,
    heapUsedBefore: before,
    heapUsedAfter: after,
    heapGrowthBytes: after - before,
    bytesPerOp: (after - before) / ops,
    heapGrowthNoGcBytes: rightAfter - before,
    gcsDuring: during.length,
    scavengesDuring: during.filter((e) => e.kind === 1).length, // NODE_PERFORMANCE_GC_MINOR
  };
}

// Memory must not grow from here on (the frame cases write through memNow, record.f32view
// through f32).
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
// The frame cases write through this view of all of linear memory, taken once memory stopped
// growing (frame.bulk.* put NET_BUFFERs in a slab that came after the view above was taken).
const memNow = new Uint8Array(rt.memory.buffer);

let sink = 0; // keeps results observable

// ---------------------------------------------------------------------------------------------
// Cases. `perCall`: objects (ops) per benchmark.js call; results are per op / per object.

const CASES = [
  {
    id: 'frame.ndis', group: 'frame', baseline: ['frame.gc', 'frame.buffer'],
    name: 'NdisAllocateNetBufferMdlAndData + NdisFreeNetBuffer (DataSize 1514) + write 1 byte',
    perCall: INNER,
    fn() {
      let c = nbCursor;
      for (let k = 0; k < INNER; k++) {
        c = (c + 1) & (RING - 1);
        rt.NdisFreeNetBuffer(nbRing[c]);
        const nb = rt.NdisAllocateNetBufferMdlAndData(nbPool);
        if (nb === 0) throw new Error('NULL NET_BUFFER');
        memNow[nb + DATA] = k;
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
    id: 'frame.buffer', group: 'frame', short: 'Buffer.allocUnsafe(1514)', available: !!NodeBuffer,
    name: `Buffer.allocUnsafe(1514) (Node's pooled, non-zeroed buffers) + write 1 byte, left to the GC (ring of ${RING} live)`,
    perCall: INNER,
    fn() {
      let c = bufCursor;
      for (let k = 0; k < INNER; k++) {
        c = (c + 1) & (RING - 1);
        const a = NodeBuffer.allocUnsafe(FRAME);
        a[0] = k;
        bufRing[c] = a;
      }
      bufCursor = c;
    },
  },
  {
    id: 'frame.bulk.api', group: 'frame', baseline: ['frame.gc', 'frame.buffer'],
    name: `bulk calls: runtime.allocateNetBuffersMdlAndData of ${FRAME_BULK} (+ write 1 byte each), then runtime.freeNetBuffers of them, per frame`,
    perCall: FRAME_BULK,
    fn() {
      if (rt.allocateNetBuffersMdlAndData(nbPool, nbBatch) !== FRAME_BULK) throw new Error('allocateNetBuffersMdlAndData came short');
      for (let k = 0; k < FRAME_BULK; k++) memNow[nbBatch[k] + DATA] = k;
      rt.freeNetBuffers(nbBatch);
    },
  },
  {
    id: 'frame.bulk.ndis', group: 'frame', baseline: ['frame.gc', 'frame.buffer'],
    name: `bulk form of the NDIS calls: ${FRAME_BULK} NdisAllocateNetBufferMdlAndData (+ write 1 byte each), then ${FRAME_BULK} NdisFreeNetBuffer (NDIS has no bulk NET_BUFFER call), per frame`,
    perCall: FRAME_BULK,
    fn() {
      for (let k = 0; k < FRAME_BULK; k++) {
        const nb = rt.NdisAllocateNetBufferMdlAndData(nbPool);
        if (nb === 0) throw new Error('NULL NET_BUFFER');
        memNow[nb + DATA] = k;
        nbBulk[k] = nb;
      }
      for (let k = 0; k < FRAME_BULK; k++) rt.NdisFreeNetBuffer(nbBulk[k]);
    },
  },
  {
    id: 'frame.bulk.nbl', group: 'frame', baseline: ['frame.gc', 'frame.buffer'],
    name: `bulk form through NBLs: ${FRAME_BULK} NdisAllocateNetBufferList (NB + MDL + ${FRAME} B preallocated) + NET_BUFFER_LIST_NEXT_NBL_SET, then one freeNetBufferListChain, per frame`,
    perCall: FRAME_BULK,
    fn() {
      if (rt.freeNetBufferListChain(buildFrameChain()) !== FRAME_BULK) throw new Error('chain free came short');
    },
  },
  {
    id: 'single.slab', group: 'single', baseline: ['single.js', 'single.jsc', 'single.malloc', 'ref.pair'],
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
    id: 'single.u', group: 'single', baseline: ['single.js', 'ref.pair'],
    name: 'SlabPool with checked: false (frees trust the caller): alloc + free (64-byte objects)',
    perCall: INNER,
    fn: slabOne(slabU),
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
    id: 'single.jsc', group: 'single', short: 'checked JS list',
    name: 'the same JS free list with equal checks (u32, range, alignment, double free via a state byte per slot): alloc + free (64-byte objects)',
    perCall: INNER,
    fn: jscOne(sized.get(64).jsc),
  },
  {
    id: 'single.malloc', group: 'single', short: '@thi.ng/malloc MemPool',
    name: '@thi.ng/malloc MemPool: malloc(64) + free',
    perCall: INNER,
    fn: mallocOne(sized.get(64).mp, 64),
  },
  {
    id: 'bulk.slab', group: 'bulk', baseline: ['bulk.js', 'bulk.jsc', 'bulk.malloc', 'ref.wasm'],
    name: `SlabPool.allocMany + freeMany, ${BATCH} per call (u32Batch, zero-copy), per object`,
    perCall: BATCH,
    fn() {
      const got = slab.allocMany(batch);
      if (got !== BATCH) throw new Error('allocMany came short');
      slab.freeMany(batch, got);
    },
  },
  {
    id: 'bulk.u', group: 'bulk', baseline: ['bulk.js', 'ref.wasm'],
    name: `SlabPool with checked: false: allocMany + freeMany, ${BATCH} per call (u32Batch), per object`,
    perCall: BATCH,
    fn: slabBulk(slabU, batchU),
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
    id: 'bulk.jsc', group: 'bulk', short: 'checked JS list, 256 at a time',
    name: `the checked JS list: allocMany(${BATCH}) + freeMany(${BATCH}) (all or nothing, duplicates caught), per object`,
    perCall: BATCH,
    fn: jscBulk(sized.get(64).jsc, BATCH),
  },
  {
    id: 'bulk.malloc', group: 'bulk', short: 'MemPool, 256 at a time',
    name: `@thi.ng/malloc MemPool: ${BATCH} malloc(64), then ${BATCH} frees newest first, per object`,
    perCall: BATCH,
    fn: mallocBulk(sized.get(64).mp, 64, BATCH),
  },
  {
    id: 'bulk32.slab', group: 'bulk32', baseline: ['bulk32.js', 'bulk32.jsc', 'bulk32.malloc'],
    name: `SlabPool.allocMany + freeMany, ${BATCH32} per call (u32Batch, zero-copy), 64-byte objects, per object`,
    perCall: BATCH32,
    fn: slabBulk(slab, batch32),
  },
  {
    id: 'bulk32.js', group: 'bulk32', short: 'plain-JS pool, 32 at a time',
    name: `plain-JS Int32Array pool: ${BATCH32} pops then ${BATCH32} pushes, per object`,
    perCall: BATCH32,
    fn: jsBulk(BATCH32),
  },
  {
    id: 'bulk32.jsc', group: 'bulk32', short: 'checked JS list, 32 at a time',
    name: `the checked JS list: allocMany(${BATCH32}) + freeMany(${BATCH32}), per object`,
    perCall: BATCH32,
    fn: jscBulk(sized.get(64).jsc, BATCH32),
  },
  {
    id: 'bulk32.malloc', group: 'bulk32', short: 'MemPool, 32 at a time',
    name: `@thi.ng/malloc MemPool: ${BATCH32} malloc(64), then ${BATCH32} frees newest first, per object`,
    perCall: BATCH32,
    fn: mallocBulk(sized.get(64).mp, 64, BATCH32),
  },
  ...SIZES.filter((size) => size !== 64).flatMap((size) => {
    const { pool, jsc, mp } = sized.get(size);
    const g = `size${size}`;
    return [
      {
        id: `${g}.one`, group: g, baseline: [`${g}.one.jsc`, `${g}.one.malloc`],
        name: `SlabPool.alloc + SlabPool.free (${size}-byte objects)`,
        perCall: INNER,
        fn: slabOne(pool),
      },
      {
        id: `${g}.one.jsc`, group: g, short: `checked JS list (${size} B)`,
        name: `the checked JS list: alloc + free (${size}-byte slots)`,
        perCall: INNER,
        fn: jscOne(jsc),
      },
      {
        id: `${g}.one.malloc`, group: g, short: `MemPool malloc(${size})`,
        name: `@thi.ng/malloc MemPool: malloc(${size}) + free`,
        perCall: INNER,
        fn: mallocOne(mp, size),
      },
      ...[BATCH32, BATCH].flatMap((n) => [
        {
          id: `${g}.b${n}`, group: g, baseline: [`${g}.b${n}.jsc`, `${g}.b${n}.malloc`],
          name: `SlabPool.allocMany + freeMany, ${n} per call (u32Batch), ${size}-byte objects, per object`,
          perCall: n,
          fn: slabBulk(pool, n === BATCH ? batch : batch32),
        },
        {
          id: `${g}.b${n}.jsc`, group: g, short: `checked JS list, ${n} at a time (${size} B)`,
          name: `the checked JS list: allocMany(${n}) + freeMany(${n}) (${size}-byte slots), per object`,
          perCall: n,
          fn: jscBulk(jsc, n),
        },
        {
          id: `${g}.b${n}.malloc`, group: g, short: `MemPool, ${n} at a time (${size} B)`,
          name: `@thi.ng/malloc MemPool: ${n} malloc(${size}), then ${n} frees newest first, per object`,
          perCall: n,
          fn: mallocBulk(mp, size, n),
        },
      ]),
    ];
  }),
  ...SCALES.map((sc, i) => ({
    id: sc.id, group: 'scale', ...(i === 0 ? { short: `${sc.label} live` } : { baseline: SCALES[0].id }),
    name: `SlabPool (64-byte objects) with ${sc.label} live objects: free the oldest live object + alloc one, per pair`,
    perCall: INNER,
    fn: scaleOp(sc),
  })),
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
    id: 'ref.pair', group: 'single', reference: true, short: 'an empty JS->Wasm call pair',
    name: 'reference: two empty JS->Wasm calls (runtime.wasm.nop twice: the boundary cost of an alloc + free pair), per pair',
    perCall: INNER,
    fn() {
      let s = 0;
      for (let k = 0; k < INNER; k++) {
        s += wasm.nop(k);
        s += wasm.nop(k);
      }
      sink += s;
    },
  },
  {
    id: 'ref.wasm', group: 'bulk', reference: true, baseline: 'bulk.js', short: 'the in-Wasm loop',
    name: `reference: in-Wasm loop limit (benchAllocFreeLoop: allocMany(${BATCH}) + unvalidated freeMany inside Wasm), per object`,
    perCall: WASM_ROUNDS * BATCH,
    fn() {
      if (wasm.benchAllocFreeLoop(slab.handle, WASM_ROUNDS, BATCH, scratchAddr, 0) !== 0) {
        throw new Error('benchAllocFreeLoop: allocation failures');
      }
    },
  },
];
// Every case's baselines as a list (`baseline` may be one id or several).
for (const c of CASES) c.baselines = c.baseline === undefined ? [] : [].concat(c.baseline);
const byId = new Map(CASES.map((c) => [c.id, c]));

/** Measurements that are not benchmark.js cases (printed after the table); --filter picks them too. */
const HEAP_OPS = 1e7;
const EXTRAS = [
  { id: 'memory.1e6', name: 'memory overhead: bytes of linear memory per live object at 10^6 live 64-byte objects' },
  { id: 'heap.slab', name: `JS heap growth over ${HEAP_OPS} SlabPool.alloc + free` },
  { id: 'heap.bulk', name: `JS heap growth over ${HEAP_OPS} objects through SlabPool.allocMany + freeMany (${BATCH} per call)` },
  { id: 'heap.frame', name: `JS heap growth over ${HEAP_OPS} NdisAllocateNetBufferMdlAndData + NdisFreeNetBuffer` },
];

// Selection: matching cases plus the baselines they are compared with; cases this platform
// cannot run (frame.buffer without Buffer) are left out with a note.
const notes = [];
const selected = new Set();
for (const c of CASES) {
  if (!filter || filter.test(c.id) || filter.test(c.name)) {
    selected.add(c.id);
    for (const b of c.baselines) selected.add(b);
  }
}
for (const id of selected) {
  const c = byId.get(id);
  if (c.available === false) {
    selected.delete(id);
    notes.push(`${id} skipped: ${c.short} is not available here`);
  }
}
const selectedExtras = new Set(EXTRAS.filter((x) => !filter || filter.test(x.id) || filter.test(x.name)).map((x) => x.id));
if (selected.size === 0 && selectedExtras.size === 0) {
  console.error(`--filter ${args.filter} matches no case. Cases: ${[...CASES, ...EXTRAS].map((c) => c.id).join(', ')}`);
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
console.log(`options: maxTime ${MAX_TIME} s per case${MIN_TIME ? `, minTime ${MIN_TIME} s per sample` : ''}${args.quick ? ' (--quick)' : ''}; runtime memory ${rt.sharedMemory ? 'shared' : 'plain'}, verifier ${rt.verifier ? 'on' : 'off'}`);
if (filter) console.log(`filter:  /${args.filter}/i -> ${[...selected, ...selectedExtras].join(', ')}`);
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
// verifier last: its runtimes are made when it starts (see GROUP_SETUP).
const GROUPS = ['frame', 'nbl', 'chain', 'packet', 'ring', 'vnic', 'single', 'bulk', 'bulk32',
  ...SIZES.filter((size) => size !== 64).map((size) => `size${size}`), 'scale', 'gen', 'record', 'acquire', 'verifier'];
for (const c of CASES) if (!GROUPS.includes(c.group)) throw new Error(`case ${c.id}: group ${c.group} is not run`);
for (const group of GROUPS) {
  const cases = CASES.filter((c) => c.group === group && selected.has(c.id));
  if (cases.length === 0) continue;
  if (GROUP_SETUP[group]) await GROUP_SETUP[group]();
  const suite = new Benchmark.Suite(group);
  for (const c of cases) {
    // No setup/teardown: benchmark.js then calls c.fn() in its timed loop (no decompilation).
    // Deferred cases (acquire.*) get a Deferred and end each call with deferred.resolve().
    suite.add(c.id, c.fn, { maxTime: MAX_TIME, ...(MIN_TIME ? { minTime: MIN_TIME } : {}), defer: !!c.defer });
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
      baseline: c.baselines[0] ?? null,
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

// Ratios: ndis-pool time / baseline time, and a rough uncertainty from both rme; one per
// baseline that ran (`ratio` and `ratioRmePercent`: against the first baseline).
for (const r of results.values()) {
  r.ratios = [];
  for (const id of byId.get(r.id).baselines) {
    const base = results.get(id);
    if (base) r.ratios.push({ baseline: id, ratio: r.nsPerOp / base.nsPerOp, ratioRmePercent: Math.hypot(r.rmePercent, base.rmePercent) });
  }
  const first = r.ratios.find((x) => x.baseline === r.baseline);
  r.ratio = first ? first.ratio : null;
  if (first) r.ratioRmePercent = first.ratioRmePercent;
}

// JS heap growth over HEAP_OPS hot-path operations (after the timed runs: the code is warm).
const heap = [];
if (selectedExtras.has('heap.slab') || selectedExtras.has('heap.bulk') || selectedExtras.has('heap.frame')) {
  const gc = getGc();
  let c = 0;
  const bodies = {
    'heap.slab': (n) => {
      let x = 0;
      for (let i = 0; i < n; i++) {
        const p = slab.alloc();
        if (p === 0) throw new Error('SlabPool.alloc returned 0');
        slab.free(p);
        x ^= p;
      }
      return x;
    },
    'heap.bulk': (n) => {
      let x = 0;
      for (let i = 0; i < n; i += BATCH) {
        const got = slab.allocMany(batch);
        if (got !== BATCH) throw new Error('allocMany came short');
        slab.freeMany(batch, got);
        x ^= got;
      }
      return x;
    },
    'heap.frame': (n) => {
      let x = 0;
      for (let i = 0; i < n; i++) {
        c = (c + 1) & (RING - 1);
        rt.NdisFreeNetBuffer(nbRing[c]);
        const nb = rt.NdisAllocateNetBufferMdlAndData(nbPool);
        if (nb === 0) throw new Error('NULL NET_BUFFER');
        nbRing[c] = nb;
        x ^= nb;
      }
      return x;
    },
  };
  console.log(`JS heap: ${HEAP_OPS} operations each, ${gc.how}`);
  for (const x of EXTRAS) {
    if (!bodies[x.id] || !selectedExtras.has(x.id)) continue;
    const h = await heapGrowth(bodies[x.id], HEAP_OPS, gc.fn);
    heap.push({ id: x.id, name: x.name, ...h, gcForced: !!gc.fn });
    console.log(`  ${x.id.padEnd(20)} ${fmtHeap(h)}`);
  }
}

// Memory overhead at 10^6 live 64-byte objects: the scale.1e6 pool.
let memory = null;
if (selectedExtras.has('memory.1e6')) {
  const sc = SCALES.find((x) => x.live === 1e6);
  const row = rt.memoryReport().pools.find((p) => p.handle === sc.pool.handle);
  const objectSize = sc.pool.objectSize;
  const growth = sc.memoryAfter.memoryBytes - sc.memoryBefore.memoryBytes;
  memory = {
    id: 'memory.1e6',
    liveObjects: row.live,
    objectSize,
    slotBytes: row.objectSize,
    poolSlabBytes: row.slabBytes,
    poolSlabs: row.slabs,
    poolCapacity: row.capacity,
    slabBytesPerObject: row.slabBytes / row.live,
    slabOverheadPercent: (row.slabBytes / (row.live * objectSize) - 1) * 100,
    memoryGrowthBytes: growth,
    memoryBytesPerObject: growth / row.live,
    memoryOverheadPercent: (growth / (row.live * objectSize) - 1) * 100,
    freeSlabBytesAfter: sc.memoryAfter.freeSlabBytes,
  };
}

// Sanity (checked before anything below can reserve memory): linear memory did not grow, so
// the frame view stayed valid; then the pools are as we left them.
if (rt.memory.buffer.byteLength !== memBytesBefore) {
  notes.push(`linear memory grew during the runs (${memBytesBefore} -> ${rt.memory.buffer.byteLength} bytes)`);
}
for (let i = 0; i < RING; i++) {
  if (nbRing[i] + DATA + FRAME > memNow.length) {
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
for (const [size, { pool, jsc }] of sized) {
  const out = pool.stats().outstanding;
  if (out !== 0) {
    failed = true;
    notes.push(`SlabPool (${size} B): ${out} objects outstanding after the runs (expected 0)`);
  }
  if (jsc.top !== jsc.stack.length) {
    failed = true;
    notes.push(`checked JS list (${size} B): ${jsc.stack.length - jsc.top} objects outstanding after the runs (expected 0)`);
  }
}
for (const sc of SCALES) {
  const out = sc.pool.stats().outstanding;
  if (out !== sc.live) {
    failed = true;
    notes.push(`scale SlabPool (${sc.label}): ${out} objects outstanding after the runs (expected ${sc.live})`);
  }
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
  if (r.ratios.length === 0) return r.reference ? '(reference, no baseline)' : r.baseline ? '(baseline not run)' : 'baseline';
  return r.ratios.map((x) => {
    const base = byId.get(x.baseline);
    const speed = x.ratio < 1 ? `${fmtRatio(1 / x.ratio)}x faster` : `${fmtRatio(x.ratio)}x slower`;
    return `${fmtRatio(x.ratio)}x the time of ${base.short} (${speed}; ±${x.ratioRmePercent.toFixed(0)}%)`;
  }).join('\n');
}
function fmtBytes(n) {
  const a = Math.abs(n);
  return a >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : a >= 1e4 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`;
}
function signed(n) {
  return `${n >= 0 ? '+' : '-'}${fmtBytes(Math.abs(n))}`;
}
function fmtHeap(h) {
  return `${h.ops} ops in ${h.seconds.toFixed(2)} s: heapUsed ${signed(h.heapGrowthNoGcBytes)} right after the loop, ` +
    `${signed(h.heapGrowthBytes)} after a full GC (${(h.heapGrowthBytes / h.ops).toFixed(4)} B/op); ` +
    `${h.gcsDuring} GCs during the loop (${h.scavengesDuring} scavenges)`;
}
function fmtMemory(m) {
  return `${m.liveObjects} live ${m.objectSize}-byte objects (the scale.1e6 SlabPool): ` +
    `pool slabs ${fmtBytes(m.poolSlabBytes)} = ${m.slabBytesPerObject.toFixed(2)} B per object ` +
    `(${m.slabOverheadPercent >= 0 ? '+' : ''}${m.slabOverheadPercent.toFixed(2)}% over ${m.objectSize} B: slab metadata and tail, free slots); ` +
    `linear memory grew by ${fmtBytes(m.memoryGrowthBytes)} while the pool was created and filled = ${m.memoryBytesPerObject.toFixed(2)} B per object ` +
    `(${m.memoryOverheadPercent >= 0 ? '+' : ''}${m.memoryOverheadPercent.toFixed(2)}%: also the slab table, the pool descriptor and ` +
    `units reserved but not in a slab yet, ${fmtBytes(m.freeSlabBytesAfter)} after the fill)`;
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
console.log(`ns/op: mean time per operation (per object for bulk*.*, size*.b*, frame.bulk.* and ref.wasm; one op = one
  allocate + one free, for frame.* also the 1-byte write (not frame.bulk.nbl); frame.gc and frame.buffer "free" by
  dropping the oldest of ${RING} live frames; a frame.bulk.* op is one of ${FRAME_BULK} frames allocated then freed per call;
  for packet.* one op is one whole packet cycle: a packet and 2 buffers allocated, chained, queried, unchained, freed).
±%: benchmark.js relative margin of error (95%) of the mean. samples: benchmark.js samples.
ratio: ndis-pool time / baseline time, measured back-to-back in this process; < 1 means ndis-pool is faster;
  its ± combines both cases' rme (root of the sum of squares); a case with several baselines has one ratio
  per line. ref.wasm is compared with bulk.js; ref.nop is the cost of one JS->Wasm call, ref.pair of two
  (SlabPool.alloc + free make 2 such calls). *.jsc: the JS free list with SlabPool.free's checks; *.malloc:
  @thi.ng/malloc MemPool (frees newest first in the bulk forms: its best case). scale.*: free the oldest
  of N live + allocate one, so the cursor walks all N objects' slabs; flat ratios mean O(1).
record.*: one op is one particle updated (4 f32 reads, 2 f32 writes); record.dataview is a second baseline
  and record.f32view (compared with record.objects) the raw-view limit: the accessors' overhead is
  record.accessors / record.f32view. acquire.*: one op is one acquire + one release (awaited, in deferred
  benchmark.js cases); *.wait run ${ACQ_TASKS} at once on a limit of ${ACQ_MAX}, so ${ACQ_TASKS - ACQ_MAX} wait for a release.`);

if (memory) console.log(`\nmemory overhead (memory.1e6): ${fmtMemory(memory)}`);

// The performance targets (issue 8), judged on this run's figures only. A target whose cases did
// not run (--filter) is left out.
const ns = (id) => results.get(id)?.nsPerOp;
/** A speed-up `v` (baseline time / ndis-pool time) in words. */
const fasterText = (v) => (v >= 1 ? `${v.toFixed(2)}x faster` : `${(1 / v).toFixed(2)}x slower`);
/** [id, target text, measured value or undefined, pass(value), how the value reads] */
const TARGETS = [
  ['frame vs Uint8Array', 'frame.ndis >= 50x faster than new Uint8Array(1514) + GC', ns('frame.gc') / ns('frame.ndis'), (v) => v >= 50, fasterText],
  ['frame vs Buffer', 'frame.ndis >= 12x faster than Buffer.allocUnsafe(1514)', ns('frame.buffer') / ns('frame.ndis'), (v) => v >= 12, fasterText],
  ['bulk frame vs Uint8Array', 'frame.bulk.api >= 200x faster than new Uint8Array(1514)', ns('frame.gc') / ns('frame.bulk.api'), (v) => v >= 200, fasterText],
  ['bulk frame vs Buffer', 'frame.bulk.api >= 50x faster than Buffer.allocUnsafe(1514)', ns('frame.buffer') / ns('frame.bulk.api'), (v) => v >= 50, fasterText],
  ['bulk vs in-Wasm loop', 'bulk.slab (validated) <= 3x ref.wasm (unvalidated, in Wasm)', ns('bulk.slab') / ns('ref.wasm'), (v) => v <= 3, (v) => `${v.toFixed(2)}x`],
  ['bulk vs checked JS list', 'bulk.slab >= 1.5x faster than bulk.jsc', ns('bulk.jsc') / ns('bulk.slab'), (v) => v >= 1.5, fasterText],
  ['unchecked bulk vs in-Wasm loop', 'bulk.u (checked: false) <= 1.8x ref.wasm', ns('bulk.u') / ns('ref.wasm'), (v) => v <= 1.8, (v) => `${v.toFixed(2)}x`],
  ['unchecked bulk vs JS list', 'bulk.u faster than bulk.js (plain, unchecked JS list)', ns('bulk.js') / ns('bulk.u'), (v) => v > 1, fasterText],
  ['single vs call pair', 'single.slab <= 1.8x ref.pair (two empty JS->Wasm calls)', ns('single.slab') / ns('ref.pair'), (v) => v <= 1.8, (v) => `${v.toFixed(2)}x`],
  ['ring vs JS ring', 'ring.ndis >= 3x faster than ring.js', ns('ring.js') / ns('ring.ndis'), (v) => v >= 3, fasterText],
  ['vNIC loopback', 'vnic.64 >= 5 M frames/s', 1e3 / ns('vnic.64'), (v) => v >= 5, (v) => `${v.toFixed(2)} M frames/s`],
  ['memory overhead', 'slab bytes <= 5% over 10^6 live 64-byte objects', memory?.slabOverheadPercent, (v) => v <= 5, (v) => `+${v.toFixed(2)}%`],
  ['scaling 10^5', 'scale.1e5 within +-20% of scale.1e3', ns('scale.1e5') / ns('scale.1e3'), (v) => v >= 0.8 && v <= 1.2, (v) => `${v.toFixed(2)}x`],
  ['scaling 10^6', 'scale.1e6 within +-20% of scale.1e3', ns('scale.1e6') / ns('scale.1e3'), (v) => v >= 0.8 && v <= 1.2, (v) => `${v.toFixed(2)}x`],
  ['JS heap growth', 'hot paths allocate no JS objects: < 0.01 B/op after a full GC, no GC in the loop',
    heap.length ? Math.max(...heap.map((h) => (h.gcsDuring > 0 ? Infinity : h.heapGrowthBytes / h.ops))) : undefined, (v) => v < 0.01, (v) => `${v.toFixed(4)} B/op at most`],
];
const targets = TARGETS.filter(([, , v]) => v !== undefined && Number.isFinite(v) || v === Infinity)
  .map(([id, target, value, pass, show]) => ({ id, target, value, met: pass(value), measured: show(value) }));
if (targets.length) {
  const tt = new Table({ head: ['target (issue 8)', 'this run', 'met?'], colWidths: [72, 26, 6], wordWrap: true, style: { head: [], border: [] } });
  for (const t of targets) tt.push([t.target, t.measured, t.met ? 'yes' : 'no']);
  console.log(`\ntargets, from this run's figures (${targets.filter((t) => t.met).length} of ${targets.length} met):`);
  console.log(tt.toString());
}
if (heap.length) {
  console.log(`JS heap growth over ${HEAP_OPS} hot-path operations (${heap[0].gcForced ? 'full GC before each reading' : 'NO forced GC: readings are not after a GC'}):`);
  for (const h of heap) console.log(`  ${h.id}: ${h.name.replace(/^JS heap growth over \S+ /, '')}: ${fmtHeap(h)}`);
}

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
    options: { quick: args.quick, filter: args.filter ?? null, maxTime: MAX_TIME, minTime: MIN_TIME ?? null, inner: INNER, batch: BATCH, wasmRounds: WASM_ROUNDS, ring: RING, frameBytes: FRAME, records: RECORDS, acquireInner: ACQ_INNER, acquireTasks: ACQ_TASKS, acquireMax: ACQ_MAX, batch32: BATCH32, frameBulk: FRAME_BULK, sizes: SIZES, scales: SCALES.map((x) => x.live), heapOps: HEAP_OPS },
    ratioDefinition: 'nsPerOp(case) / nsPerOp(baseline); < 1 means the ndis-pool case is faster',
    results: CASES.filter((c) => results.has(c.id)).map((c) => results.get(c.id)),
    memory,
    heap,
    targets,
    notes,
    sink,
  };
  writeFileSync(args.json, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${args.json}`);
}
if (failed) process.exitCode = 1;
