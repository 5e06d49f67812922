// One Web Worker of examples/workers: attaches to the page's runtime, passes stamped objects to
// the next worker through its SharedRing and frees what the previous worker passes it.
// The handler is installed before the package loads (a static import would delay it past the
// page's message: the package's top-level await makes its default runtime first).
self.onmessage = async (e) => {
  const { attachRuntime } = await import('../../dist/browser.mjs');
  const { d, me, n, pool: handle, rings, total } = e.data;
  const rt = attachRuntime(d);
  const pool = rt.openSlabPool(handle);
  const out = rt.openSharedRing(rings[me]);
  const inp = rt.openSharedRing(rings[(me + n - 1) % n]);
  const from = (me + n - 1) % n;
  const W = 5, B = 32;
  const sendBuf = rt.u32Batch(B * W), recvBuf = rt.u32Batch(B * W);
  let allocs = 0, received = 0, bad = 0, expectSeq = 0, seq = 0;
  while (seq < total || received < total) {
    let idle = true;
    if (seq < total && out.free >= B) {
      const k = Math.min(B, total - seq);
      for (let i = 0; i < k; i++) {
        const p = pool.alloc();
        rt.sync();
        rt.u32[p >>> 2] = me + 1;
        rt.u32[(p >>> 2) + 1] = seq;
        sendBuf.set([p, 64, 0, 0, seq++], i * W);
        allocs++;
      }
      out.enqueueBulk(sendBuf, k);
      idle = false;
    }
    // Nothing sent this turn: wait (1 ms at most) for the previous worker instead of spinning.
    const got = idle ? inp.dequeueWait(recvBuf, B, 1) : inp.dequeueBurst(recvBuf, B);
    for (let i = 0; i < got; i++) {
      const p = recvBuf[i * W];
      rt.sync();
      if (rt.u32[p >>> 2] !== from + 1 || rt.u32[(p >>> 2) + 1] !== expectSeq) bad++;
      expectSeq++;
      pool.free(p);
      received++;
    }
  }
  self.postMessage({ me, worker: rt.workerId, allocs, received, bad, left: rt.detach() });
};
