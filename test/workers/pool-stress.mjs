// Worker of test/workers.test.ts's stress test. Worker `me` allocates objects, alternately
// SlabPool objects and NET_BUFFERs (MdlAndData), stamps each with (owner, sequence), and passes
// them to the next worker through SharedRing `rings[me]`; it takes the previous worker's objects
// from `rings[me - 1]`, checks each stamp (the owner, and every sender's sequence in order) and
// frees them. Descriptor: address, length, flags (0: SlabPool object, 1: NB), status, cookie = seq.
import { workerData, parentPort } from 'node:worker_threads';
import { attachRuntime } from '../../build/ts/index.js';

const { d, me, n, pool: handle, nbPool, rings, total } = workerData;
const rt = attachRuntime(d);
const pool = rt.openSlabPool(handle);
const out = rt.openSharedRing(rings[me]);
const inp = rt.openSharedRing(rings[(me + n - 1) % n]);
const from = (me + n - 1) % n;
const W = 5, B = 32;
const sendBuf = rt.u32Batch(B * W);
const recvBuf = rt.u32Batch(B * W);
let allocs = 0, received = 0, bad = 0, expectSeq = 0, seq = 0;

/** Where an object's stamp lives: the object itself, or an NB's data. */
const stampAt = (p, isNb) => (isNb ? rt.MmGetSystemAddressForMdlSafe(rt.NET_BUFFER_FIRST_MDL(p), 16) : p);

while (seq < total || received < total) {
  let idle = true;
  if (seq < total && out.free >= B) {
    const k = Math.min(B, total - seq);
    for (let i = 0; i < k; i++) {
      const isNb = (seq & 1) === 1;
      const p = isNb ? rt.NdisAllocateNetBufferMdlAndData(nbPool) : pool.alloc();
      if (p === 0) throw new Error('exhausted');
      allocs++;
      const s = stampAt(p, isNb);
      rt.sync();
      rt.u32[s >>> 2] = me + 1;
      rt.u32[(s >>> 2) + 1] = seq;
      sendBuf.set([p, 0, isNb ? 1 : 0, 0, seq], i * W);
      seq++;
    }
    if (out.enqueueBulk(sendBuf, k) !== k) throw new Error('ring refused a burst it had room for');
    idle = false;
  }
  // Nothing sent this turn: wait (1 ms at most) for the previous worker instead of spinning.
  const got = idle ? inp.dequeueWait(recvBuf, B, 1) : inp.dequeueBurst(recvBuf, B);
  for (let i = 0; i < got; i++) {
    const p = recvBuf[i * W], isNb = recvBuf[i * W + 2] === 1, s = stampAt(p, isNb);
    rt.sync();
    if (rt.u32[s >>> 2] !== from + 1 || rt.u32[(s >>> 2) + 1] !== expectSeq || recvBuf[i * W + 4] !== expectSeq) bad++;
    expectSeq++;
    rt.u32[s >>> 2] = 0xdead;
    if (isNb) rt.NdisFreeNetBuffer(p); else pool.free(p);
    received++;
  }
}
parentPort.postMessage({ allocs, received, bad, left: rt.detach() });
