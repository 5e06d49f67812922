// Worker of test/xring.test.ts and bench/xring.js: one producer or one consumer of an MPMC (or
// SPSC) shared ring. Producers send `count` descriptors (producerId, sequence) in bursts; consumers
// check every descriptor's words, the per-producer order, and mark it in a shared bitmap (a
// second mark is a duplicate) until `expected` descriptors went through all consumers.
//
// workerData: { runtime, handle, role: 'producer' | 'consumer', id, count, burst, bulkEvery,
//               bitmap: SharedArrayBuffer (one bit per producer * stride + seq), stride,
//               total: SharedArrayBuffer (Int32 [0] = descriptors consumed so far), expected,
//               producers, check }
import { parentPort, workerData } from 'node:worker_threads';
import { attachRuntime, openSharedRing } from '../../build/ts/index.js';

const W = 5;
const d = workerData;
const rt = attachRuntime(d.runtime);
const ring = openSharedRing(rt, d.handle);
const burst = d.burst;
const batch = rt.u32Batch(burst * W);

/** Word 2..4 of descriptor (p, s): redundant copies to catch torn or mixed copies. */
const w2 = (p, s) => (s ^ Math.imul(p + 1, 0x9e3779b1)) >>> 0;
const w3 = (s) => ~s >>> 0;
const w4 = (p, s) => (Math.imul(s, 0x85ebca6b) ^ p) >>> 0;

function produce() {
  let seq = 0;
  let held = 0; // descriptors at the front of `batch` not enqueued yet
  let calls = 0;
  let fullWaits = 0;
  const t0 = performance.now();
  while (seq < d.count || held > 0) {
    while (held < burst && seq < d.count) {
      const o = held * W;
      batch[o] = d.id;
      batch[o + 1] = seq;
      batch[o + 2] = w2(d.id, seq);
      batch[o + 3] = w3(seq);
      batch[o + 4] = w4(d.id, seq);
      held++;
      seq++;
    }
    calls++;
    let k = d.bulkEvery && calls % d.bulkEvery === 0 ? ring.enqueueBulk(batch, held) : ring.enqueueBurst(batch, held);
    if (k === 0) {
      fullWaits++;
      k = ring.enqueueWait(batch, held, 1000);
    }
    if (k < held) batch.copyWithin(0, k * W, held * W);
    held -= k;
  }
  return { role: 'producer', id: d.id, sent: d.count, calls, fullWaits, ms: performance.now() - t0 };
}

function consume() {
  const total = new Int32Array(d.total);
  const bitmap = d.bitmap ? new Int32Array(d.bitmap) : null;
  const last = new Array(d.producers).fill(-1);
  const perProducer = new Array(d.producers).fill(0);
  let received = 0;
  let dup = 0;
  let order = 0;
  let corrupt = 0;
  let calls = 0;
  let emptyWaits = 0;
  const firstBad = [];
  const t0 = performance.now();
  while (Atomics.load(total, 0) < d.expected) {
    calls++;
    let k = d.bulkEvery && calls % d.bulkEvery === 0 ? ring.dequeueBulk(batch, burst) : ring.dequeueBurst(batch, burst);
    if (k === 0) {
      emptyWaits++;
      k = ring.dequeueWait(batch, burst, 5);
      if (k === 0) continue;
    }
    if (d.check) {
      for (let i = 0; i < k; i++) {
        const o = i * W;
        const p = batch[o];
        const s = batch[o + 1];
        if (p >= d.producers || batch[o + 2] !== w2(p, s) || batch[o + 3] !== w3(s) || batch[o + 4] !== w4(p, s)) {
          corrupt++;
          if (firstBad.length < 5) firstBad.push([...batch.subarray(o, o + W)]);
          continue;
        }
        if (s <= last[p]) order++;
        last[p] = s;
        perProducer[p]++;
        if (bitmap) {
          const bit = p * d.stride + s;
          const old = Atomics.or(bitmap, bit >>> 5, 1 << (bit & 31));
          if (old & (1 << (bit & 31))) dup++;
        }
      }
    }
    received += k;
    Atomics.add(total, 0, k);
  }
  return { role: 'consumer', id: d.id, received, dup, order, corrupt, firstBad, perProducer, calls, emptyWaits, ms: performance.now() - t0 };
}

parentPort.once('message', () => {
  const r = d.role === 'producer' ? produce() : consume();
  parentPort.postMessage(r);
});
parentPort.postMessage('ready');
