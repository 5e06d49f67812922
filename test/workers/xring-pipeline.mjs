// Worker of test/xring.test.ts: one stage of an SPSC pipeline
//   source --ring A--> relay --ring B--> sink
// over single-producer / single-consumer shared rings. The source sends `count` descriptors with
// consecutive sequence numbers; the relay adds 1 to each status word and forwards them; the sink
// checks that it gets every sequence number exactly once, in order, with the status updated.
//
// workerData: { runtime, inHandle, outHandle, role: 'source' | 'relay' | 'sink', count, burst }
import { parentPort, workerData } from 'node:worker_threads';
import { attachRuntime, openSharedRing } from '../../build/ts/index.js';

const W = 5;
const d = workerData;
const rt = attachRuntime(d.runtime);
const input = d.inHandle ? openSharedRing(rt, d.inHandle) : null;
const output = d.outHandle ? openSharedRing(rt, d.outHandle) : null;
const batch = rt.u32Batch(d.burst * W);

/** Enqueues the first n descriptors of `batch` into `output`, waiting while it is full. */
function send(n) {
  while (n > 0) {
    let k = output.enqueueBurst(batch, n);
    if (k === 0) k = output.enqueueWait(batch, n, 1000);
    if (k < n) batch.copyWithin(0, k * W, n * W);
    n -= k;
  }
}

function run() {
  const t0 = performance.now();
  if (d.role === 'source') {
    for (let seq = 0; seq < d.count; ) {
      const n = Math.min(d.burst, d.count - seq);
      for (let i = 0; i < n; i++, seq++) {
        const o = i * W;
        batch[o] = 0x10000 + seq;
        batch[o + 1] = 1500;
        batch[o + 2] = 0;
        batch[o + 3] = 0;
        batch[o + 4] = seq;
      }
      send(n);
    }
    return { role: 'source', sent: d.count, ms: performance.now() - t0 };
  }
  let moved = 0;
  let expect = 0;
  let bad = 0;
  const firstBad = [];
  while (moved < d.count) {
    let k = input.dequeueBurst(batch, Math.min(d.burst, d.count - moved));
    if (k === 0) k = input.dequeueWait(batch, Math.min(d.burst, d.count - moved), 1000);
    if (k === 0) continue;
    if (d.role === 'relay') {
      for (let i = 0; i < k; i++) batch[i * W + 3] += 1;
      send(k);
    } else {
      for (let i = 0; i < k; i++, expect++) {
        const o = i * W;
        if (batch[o] !== 0x10000 + expect || batch[o + 1] !== 1500 || batch[o + 3] !== 1 || batch[o + 4] !== expect) {
          bad++;
          if (firstBad.length < 5) firstBad.push([expect, ...batch.subarray(o, o + W)]);
        }
      }
    }
    moved += k;
  }
  return { role: d.role, moved, bad, firstBad, ms: performance.now() - t0 };
}

parentPort.once('message', () => parentPort.postMessage(run()));
parentPort.postMessage('ready');
