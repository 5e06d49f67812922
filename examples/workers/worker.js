// One Web Worker of examples/workers: attaches to the page's runtime and passes stamped objects on.
// The handler is installed before the package loads (a static import would delay it past the
// page's message: the package's top-level await makes its default runtime first).
self.onmessage = async (e) => {
  const { attachRuntime } = await import('../../dist/browser.mjs');
  const { d, me, n, pool: handle, rounds, batch, send, recv } = e.data;
  const rt = attachRuntime(d);
  const pool = rt.openSlabPool(handle);
  const from = (me + n - 1) % n;
  let allocs = 0, received = 0, bad = 0, expectSeq = 0, seq = 0;
  const done = new Promise((resolve) => {
    let r = 0;
    recv.onmessage = (m) => {
      rt.sync();
      for (const p of m.data) {
        if (rt.u32[p >>> 2] !== from + 1 || rt.u32[(p >>> 2) + 1] !== expectSeq) bad++;
        expectSeq++;
        pool.free(p);
        received++;
      }
      if (++r === rounds) resolve();
    };
  });
  for (let r = 0; r < rounds; r++) {
    const ptrs = [];
    for (let k = 0; k < batch; k++) {
      const p = pool.alloc();
      rt.sync();
      rt.u32[p >>> 2] = me + 1;
      rt.u32[(p >>> 2) + 1] = seq++;
      ptrs.push(p);
      allocs++;
    }
    send.postMessage(ptrs);
    await new Promise((res) => setTimeout(res, 0));
  }
  await done;
  self.postMessage({ me, worker: rt.workerId, allocs, received, bad, left: rt.detach() });
};
