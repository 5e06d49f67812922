// Worker of test/workers.test.ts: allocates BATCH objects per round from the shared pool, stamps
// each with (owner, sequence), posts them to the next worker, and frees what the previous
// worker posts after checking its stamps (every sender's sequence must arrive in order).
import { workerData, parentPort } from 'node:worker_threads';
import { attachRuntime } from '../../build/ts/index.js';

const { d, me, n, pool: handle, rounds, batch, out, inp } = workerData;
const rt = attachRuntime(d);
const pool = rt.openSlabPool(handle);
const from = (me + n - 1) % n;
let allocs = 0, received = 0, bad = 0, expectSeq = 0, seq = 0;

const done = new Promise((resolve) => {
  let r = 0;
  inp.on('message', (ptrs) => {
    rt.sync();
    const u32 = rt.u32;
    for (const p of ptrs) {
      if (u32[p >>> 2] !== from + 1 || u32[(p >>> 2) + 1] !== expectSeq) bad++;
      expectSeq++;
      u32[p >>> 2] = 0xdead;
      pool.free(p);
      received++;
    }
    if (++r === rounds) { inp.close(); resolve(); }
  });
});

for (let r = 0; r < rounds; r++) {
  const ptrs = new Array(batch);
  for (let k = 0; k < batch; k++) {
    const p = pool.alloc();
    if (p === 0) throw new Error('pool exhausted');
    rt.sync();
    rt.u32[p >>> 2] = me + 1;
    rt.u32[(p >>> 2) + 1] = seq++;
    ptrs[k] = p;
    allocs++;
  }
  out.postMessage(ptrs);
  if (r % 4 === 3) await new Promise((res) => setImmediate(res));
}
await done;
out.close();
parentPort.postMessage({ allocs, received, bad, left: rt.detach() });
