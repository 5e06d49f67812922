// Worker of test/xring.test.ts's linearizability check: runs a script of enqueue / dequeue
// calls on a shared ring at the same time as the other workers and records, for every call, a
// [start, end] interval on a shared logical clock (Atomics.add on one word: sequentially
// consistent, so end(A) < start(B) means A returned before B began) and its result.
//
// Messages in: { handle, ops: [{ op: 'enq', bulk, ids } | { op: 'deq', bulk, n }, ...] (one
// script per case), spins: [...] (busy-wait before each op) }. Out: the history,
// [{ i, start, end, got }] (enqueue: count; dequeue: ids in order).
// workerData: { runtime, clock: SharedArrayBuffer (Int32 [0] clock, [1] arrived, [2] round) , workers }
import { parentPort, workerData } from 'node:worker_threads';
import { attachRuntime, openSharedRing } from '../../build/ts/index.js';

const W = 5;
const d = workerData;
const rt = attachRuntime(d.runtime);
const sync = new Int32Array(d.clock);
const buf = rt.u32Batch(16 * W);
let round = 0;

/** The words of descriptor `id` (word 0 is the id, the others check the copy). */
function put(i, id) {
  const o = i * W;
  buf[o] = id;
  buf[o + 1] = ~id >>> 0;
  buf[o + 2] = (id * 7) >>> 0;
  buf[o + 3] = id ^ 0x5a5a5a5a;
  buf[o + 4] = 0xc0ffee;
}
function idAt(i) {
  const o = i * W;
  const id = buf[o];
  if (buf[o + 1] !== (~id >>> 0) || buf[o + 2] !== ((id * 7) >>> 0) || buf[o + 3] !== ((id ^ 0x5a5a5a5a) >>> 0) || buf[o + 4] !== 0xc0ffee) return -1;
  return id;
}

parentPort.on('message', ({ handle, ops, spins }) => {
  const ring = openSharedRing(rt, handle);
  round++;
  // Barrier: every worker of this round arrives, then all start together.
  Atomics.add(sync, 1, 1);
  while (Atomics.load(sync, 1) < d.workers * round) { /* spin */ }
  const history = [];
  for (let i = 0; i < ops.length; i++) {
    for (let s = spins[i] ?? 0, x = 0; s > 0; s--) x += s; // busy-wait: vary the interleaving
    const op = ops[i];
    let got;
    if (op.op === 'enq') {
      op.ids.forEach((id, j) => put(j, id));
      const start = Atomics.add(sync, 0, 1);
      const k = op.bulk ? ring.enqueueBulk(buf, op.ids.length) : ring.enqueueBurst(buf, op.ids.length);
      const end = Atomics.add(sync, 0, 1);
      got = k;
      history.push({ i, start, end, got });
    } else {
      const start = Atomics.add(sync, 0, 1);
      const k = op.bulk ? ring.dequeueBulk(buf, op.n) : ring.dequeueBurst(buf, op.n);
      const end = Atomics.add(sync, 0, 1);
      got = [];
      for (let j = 0; j < k; j++) got.push(idAt(j));
      history.push({ i, start, end, got });
    }
  }
  parentPort.postMessage(history);
});
parentPort.postMessage('ready');
