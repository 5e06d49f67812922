/**
 * Multi-worker benchmark (issue 10): `npm run bench:workers`, or `node bench/workers.js` after
 * `npm run build`. Options: --quick (short runs), --json <file>.
 *
 * Every measurement runs in fresh worker_threads, each with exactly one runtime instance, so
 * that no call site sees two modules' exports (which stops V8 inlining JS->Wasm calls; see
 * bench/index.js) and the comparison is fair. Cases:
 *
 *   alloc.single   one worker, a plain (single-threaded) runtime: SlabPool alloc + free, 64 B
 *   alloc.cache    one worker attached to a multi-worker runtime: the same loop through the
 *                  worker's cache (no lock, no atomics)           target: <= 1.3x alloc.single
 *   alloc.shared   the same with cacheSize 0: every call takes the runtime lock
 *   alloc.w1/w2/w4 1, 2 and 4 workers running the cached loop on ONE shared pool at once:
 *                  total alloc+free pairs per second, and the ratio against one worker
 *   bulk.cache     allocMany + freeMany of 32 through the cache, per object
 *   pipe.cacheN    2 workers: one allocates objects one at a time and passes them through a
 *                  SharedRing in bursts of 32, the other frees each; worker caches of N objects
 *                  (0: none), against N = 0. Sizes the default cache (WORKER_CACHE_SIZE).
 *
 * The 2-stage ring pipeline (SPSC/MPMC, bursts of 32) is bench/xring.js.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';

if (!isMainThread) {
  await workerMain();
} else {
  await main();
}

async function workerMain() {
  const { mode, d, handle, ms, batch } = workerData;
  if (mode === 'producer' || mode === 'consumer') return pipelineWorker();
  const { createRuntimeSync, attachRuntime } = await import('../build/ts/runtime.js');
  let rt, pool;
  if (mode === 'single') {
    rt = createRuntimeSync({ maxMemory: 256 << 20, sharedMemory: false });
    pool = rt.createSlabPool({ objectSize: 64 });
  } else {
    rt = attachRuntime(d);
    pool = rt.openSlabPool(handle, { cacheSize: mode === 'shared' ? 0 : undefined });
  }
  const out = batch ? rt.u32Batch(batch) : null;
  const step = () => {
    if (out) {
      pool.allocMany(out);
      pool.freeMany(out);
      return batch;
    }
    for (let i = 0; i < 1000; i++) pool.free(pool.alloc());
    return 1000;
  };
  // Warm up (JIT, caches), then wait for the start signal so that all workers run together.
  const warmEnd = performance.now() + Math.min(300, ms / 2);
  while (performance.now() < warmEnd) step();
  parentPort.postMessage({ ready: true });
  const start = await new Promise((res) => parentPort.once('message', res));
  void start;
  let ops = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  let t = t0;
  while (t < end) {
    ops += step();
    t = performance.now();
  }
  const elapsed = t - t0;
  if (mode !== 'single') rt.detach();
  parentPort.postMessage({ ops, ms: elapsed });
}

/**
 * The cross-worker pattern the cache size matters for: the producer allocates objects one at a
 * time (its cache empties: refills) and passes them in bursts of 32 through a SharedRing; the
 * consumer frees each one (its cache fills: flushes). Ends with a descriptor of address 0.
 */
async function pipelineWorker() {
  const { mode, d, handle, ring: ringHandle, ms, cacheSize } = workerData;
  const { attachRuntime } = await import('../build/ts/runtime.js');
  const rt = attachRuntime(d);
  const pool = rt.openSlabPool(handle, { cacheSize });
  const ring = rt.openSharedRing(ringHandle);
  const B = 32, W = 5;
  const buf = rt.u32Batch(B * W);
  parentPort.postMessage({ ready: true });
  await new Promise((res) => parentPort.once('message', res));
  let ops = 0;
  const t0 = performance.now();
  if (mode === 'producer') {
    const end = t0 + ms;
    for (;;) {
      const p0 = performance.now();
      if (p0 >= end) break;
      for (let k = 0; k < B; k++) buf[k * W] = pool.alloc();
      ring.enqueueWait(buf, B, 1000);
      ops += B;
    }
    buf[0] = 0;
    ring.enqueueWait(buf, 1, 10_000);
  } else {
    let more = true;
    while (more) {
      const n = ring.dequeueWait(buf, B, 10_000);
      for (let k = 0; k < n; k++) {
        const p = buf[k * W];
        if (p === 0) { more = false; break; }
        pool.free(p);
        ops++;
      }
    }
  }
  const elapsed = performance.now() - t0;
  rt.detach();
  parentPort.postMessage({ ops, ms: elapsed });
}

/** The producer/consumer pipeline with worker caches of `cacheSize`: objects per second. */
async function runPipeline(rt, handle, ms, cacheSize) {
  const ring = rt.createSharedRing({ capacity: 1024, producers: 'single', consumers: 'single' });
  const ws = ['producer', 'consumer'].map((mode) => new Worker(new URL(import.meta.url), {
    workerData: { mode, d: rt.share(), handle, ring: ring.handle, ms, cacheSize },
  }));
  await Promise.all(ws.map((w) => new Promise((res, rej) => { w.once('message', res); w.once('error', rej); })));
  const done = ws.map((w) => new Promise((res, rej) => { w.once('message', res); w.once('error', rej); }));
  for (const w of ws) w.postMessage('go');
  const [prod, cons] = await Promise.all(done);
  await Promise.all(ws.map((w) => w.terminate()));
  ring.destroy();
  if (prod.ops !== cons.ops) throw new Error(`pipeline lost objects: ${prod.ops} sent, ${cons.ops} freed`);
  return { opsPerSec: cons.ops / (Math.max(prod.ms, cons.ms) / 1000), nsPerOp: (Math.max(prod.ms, cons.ms) * 1e6) / cons.ops };
}

/** Runs `n` workers of `mode` together; returns { perWorkerNs, totalOpsPerSec }. */
async function runWorkers(n, mode, ms, shared, batch = 0) {
  const ws = [];
  for (let i = 0; i < n; i++) {
    ws.push(new Worker(new URL(import.meta.url), { workerData: { mode, ms, batch, d: shared?.d, handle: shared?.handle } }));
  }
  const ready = ws.map((w) => new Promise((res, rej) => { w.once('message', res); w.once('error', rej); }));
  await Promise.all(ready);
  const done = ws.map((w) => new Promise((res, rej) => { w.once('message', res); w.once('error', rej); }));
  for (const w of ws) w.postMessage('go');
  const results = await Promise.all(done);
  await Promise.all(ws.map((w) => w.terminate()));
  const total = results.reduce((s, r) => s + r.ops / (r.ms / 1000), 0);
  const perOp = results.reduce((s, r) => s + (r.ms * 1e6) / r.ops, 0) / n;
  return { nsPerOp: perOp, opsPerSec: total };
}

async function main() {
  const { values: args } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, json: { type: 'string' }, help: { type: 'boolean', default: false } },
  });
  if (args.help) {
    console.log('usage: node bench/workers.js [--quick] [--json <file>]');
    return;
  }
  const ms = args.quick ? 300 : 2000;
  const { createRuntimeSync } = await import('../build/ts/runtime.js');
  const rt = createRuntimeSync({ shared: true, maxMemory: 512 << 20 });
  const pool = rt.createSlabPool({ objectSize: 64 });
  const shared = { d: rt.share(), handle: pool.handle };

  const rows = [];
  const add = (id, r, ref, target) => {
    const ratio = ref ? r.nsPerOp / ref.nsPerOp : null;
    rows.push({ id, nsPerOp: r.nsPerOp, opsPerSec: r.opsPerSec, ratio, target: target ?? null });
  };
  const single = await runWorkers(1, 'single', ms, null);
  add('alloc.single', single);
  const cache = await runWorkers(1, 'cache', ms, shared);
  add('alloc.cache', cache, single, '<= 1.3x alloc.single');
  const sharedPath = await runWorkers(1, 'shared', ms, shared);
  add('alloc.shared', sharedPath, cache);
  const bulk = await runWorkers(1, 'cache', ms, shared, 32);
  add('bulk.cache', bulk, cache);
  const w1 = cache;
  for (const n of [1, 2, 4]) {
    const r = n === 1 ? w1 : await runWorkers(n, 'cache', ms, shared);
    rows.push({ id: `alloc.w${n}`, nsPerOp: r.nsPerOp, opsPerSec: r.opsPerSec, ratio: r.opsPerSec / w1.opsPerSec, target: null, scaling: true });
  }
  // Cache size for the cross-worker pattern (allocate in one worker, free in another).
  const sizes = [0, 8, 32, 64, 128, 256, 512];
  let best = null;
  for (const size of sizes) {
    const r = await runPipeline(rt, pool.handle, ms, size);
    rows.push({ id: `pipe.cache${size}`, nsPerOp: r.nsPerOp, opsPerSec: r.opsPerSec, ratio: null, target: null, pipeline: size });
    if (!best || r.opsPerSec > best.opsPerSec) best = { size, opsPerSec: r.opsPerSec };
  }
  const ref = rows.find((r) => r.id === 'pipe.cache0');
  for (const r of rows) if (r.pipeline !== undefined) r.ratio = r.opsPerSec / ref.opsPerSec;
  const s = pool.stats();
  if (s.outstanding !== 0 || s.allocs !== s.frees) throw new Error(`counters drifted: ${JSON.stringify(s)}`);

  console.log(`multi-worker SlabPool (64 B), ${cpus().length} CPUs, Node ${process.version}, ${ms} ms per case`);
  console.log('case           ns/op (per worker)   M ops/s (all workers)   ratio');
  for (const r of rows) {
    const ratio = r.ratio === null ? '' : r.scaling ? `${r.ratio.toFixed(2)}x the throughput of 1 worker`
      : r.pipeline !== undefined ? `${r.ratio.toFixed(2)}x the throughput with no cache`
        : `${r.ratio.toFixed(2)}x ${r.id === 'alloc.cache' ? 'alloc.single' : 'alloc.cache'}`;
    console.log(`${r.id.padEnd(14)} ${r.nsPerOp.toFixed(1).padStart(8)}             ${(r.opsPerSec / 1e6).toFixed(1).padStart(8)}                ${ratio}${r.target ? `  (target ${r.target})` : ''}`);
  }
  console.log(`pool after the run: allocs ${s.allocs}, frees ${s.frees}, outstanding ${s.outstanding}`);
  console.log(`pipe.*: one worker allocates and passes objects through a SharedRing (bursts of 32), the other frees them; best cache size here: ${best.size}`);
  if (args.json) writeFileSync(args.json, JSON.stringify({ node: process.version, cpus: cpus().length, ms, rows, pool: s }, null, 2));
  pool.destroy();
}
