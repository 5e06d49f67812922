/**
 * Cross-worker descriptor ring benchmark (issue 10): `node bench/xring.js` after
 * `npm run build:wasm && npm run build:ts` (or `npm run build`).
 *
 * Part 1, cross-worker throughput (plain timed loops; the figure that matters). Each case moves
 * descriptors (5 u32 words) through one SharedRing between node:worker_threads workers attached
 * to one multi-worker runtime, in bursts of 32 through zero-copy u32Batch arrays. Producers
 * write a sequence number into each descriptor, consumers read every descriptor's sequence
 * number (the SPSC consumer checks the order). An empty consumer sleeps in dequeueWait, a
 * blocked producer in enqueueWait. Time runs from the "go" message to the last worker's answer.
 *
 *   spsc.2w     1 producer + 1 consumer worker, single-producer / single-consumer ring
 *   mpmc.2w     1 producer + 1 consumer worker, multi-producer / multi-consumer ring (the CAS
 *               and tail-wait paths with no contention)
 *   mpmc.4w     2 producers + 2 consumers, MPMC ring
 *
 * Each case runs once to warm up, then `--runs` times (default 5), and reports the median and
 * the best descriptors/s.
 * Target (issue 10): spsc.2w >= 10 million descriptors/s.
 *
 * Part 2, one thread, on a single-worker runtime (benchmark.js, as bench/index.js: ratios to a
 * baseline run back-to-back):
 *   xring.sp    SharedRing (SP/SC) enqueueBurst + dequeueBurst of 32, per descriptor
 *   xring.mp    the same on an MP/MC ring (CAS reservations, no contention)
 *   ring.ndis   baseline: DescriptorRing (single-threaded ring, bench/index.js's ring.ndis)
 *
 * Options: --runs N, --count N (descriptors per cross-worker run, default 2e7; mpmc.4w moves the
 * same total), --capacity N (ring slots, default 1024), --skip-single (part 1 only).
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import os from 'node:os';
import { parseArgs } from 'node:util';

const W = 5;
const BURST = 32;

if (!isMainThread) {
  await workerMain();
} else {
  await main();
}

// -- worker side -----------------------------------------------------------------------------------

async function workerMain() {
  const { attachRuntime, openSharedRing } = await import('../build/ts/index.js');
  const d = workerData;
  const rt = attachRuntime(d.runtime);
  const ring = openSharedRing(rt, d.handle);
  const batch = rt.u32Batch(BURST * W);
  const total = new Int32Array(d.total);
  parentPort.on('message', (m) => {
    if (m === 'exit') { rt.detach(); process.exit(0); }
    parentPort.postMessage(d.role === 'producer' ? produce(ring, batch, m.count, d.id) : consume(ring, batch, m.count, m.check, total));
  });
  parentPort.postMessage('ready');
}

function produce(ring, batch, count, id) {
  let seq = 0;
  let waits = 0;
  for (let i = 0; i < BURST; i++) batch[i * W] = id;
  while (seq < count) {
    const n = Math.min(BURST, count - seq);
    for (let i = 0; i < n; i++) batch[i * W + 1] = seq + i;
    let k = ring.enqueueBurst(batch, n);
    if (k === 0) {
      waits++;
      k = ring.enqueueWait(batch, n, 1000);
    }
    seq += k; // the next burst rewrites the sequence numbers from seq on
  }
  return { sent: seq, waits };
}

/** Dequeues until `count` descriptors went through all the case's consumers (shared counter `total`). */
function consume(ring, batch, count, check, total) {
  let got = 0;
  let waits = 0;
  let next = 0;
  let sum = 0;
  let bad = 0;
  while (Atomics.load(total, 0) < count) {
    let k = ring.dequeueBurst(batch, BURST);
    if (k === 0) {
      waits++;
      k = ring.dequeueWait(batch, BURST, 5);
      if (k === 0) continue;
    }
    for (let i = 0; i < k; i++) {
      const s = batch[i * W + 1];
      sum += s;
      if (check && s !== next++) bad++;
    }
    got += k;
    Atomics.add(total, 0, k);
  }
  return { got, waits, sum, bad };
}

// -- main thread -----------------------------------------------------------------------------------

async function main() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      count: { type: 'string', default: String(2e7) },
      capacity: { type: 'string', default: '1024' },
      'skip-single': { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  const count = Number(values.count);
  const capacity = Number(values.capacity);
  const { createRuntime, createSharedRing } = await import('../build/ts/index.js');

  console.log('ndis-pool cross-worker ring benchmark');
  console.log(`date:    ${new Date().toISOString()}`);
  console.log(`machine: ${os.cpus()[0]?.model.trim() ?? '?'}, ${os.cpus().length} cores, linux ${os.release()}`);
  console.log(`node:    ${process.version}`);
  console.log(`command: node bench/xring.js ${process.argv.slice(2).join(' ')}`.trimEnd());
  console.log(`options: ${count} descriptors per run, bursts of ${BURST}, ring capacity ${capacity}, ${runs} runs per case\n`);

  const rt = await createRuntime({ shared: true, maxMemory: 256 << 20 });
  const cases = [
    { id: 'spsc.2w', producers: 1, consumers: 1, mode: 'single' },
    { id: 'mpmc.2w', producers: 1, consumers: 1, mode: 'multi' },
    { id: 'mpmc.4w', producers: 2, consumers: 2, mode: 'multi' },
  ];
  console.log('part 1: cross-worker throughput (descriptors/s)');
  for (const c of cases) {
    const ring = createSharedRing(rt, { capacity, producers: c.mode, consumers: c.mode });
    const runtime = rt.share();
    const totalBuf = new SharedArrayBuffer(4);
    const workers = [];
    const spawn = (role, id) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { runtime, handle: ring.handle, role, id, total: totalBuf } });
      workers.push(w);
      return new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    };
    const ready = [];
    for (let i = 0; i < c.producers; i++) ready.push(spawn('producer', i));
    for (let i = 0; i < c.consumers; i++) ready.push(spawn('consumer', i));
    await Promise.all(ready);
    const rates = [];
    for (let r = -1; r < runs; r++) { // run -1 warms the JIT up and is not counted
      const per = count / c.producers;
      Atomics.store(new Int32Array(totalBuf), 0, 0);
      const t0 = performance.now();
      const results = await Promise.all(workers.map((w, i) => new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        const isProducer = i < c.producers;
        // Consumers take until `count` went through all of them (they split it unevenly).
        w.postMessage({ count: isProducer ? per : count, check: c.producers === 1 && c.consumers === 1 });
      })));
      const ms = performance.now() - t0;
      const bad = results.reduce((a, x) => a + (x.bad ?? 0), 0);
      if (bad) throw new Error(`${c.id}: ${bad} descriptors out of order`);
      if (r >= 0) rates.push(count / (ms / 1000));
      const s = ring.stats();
      if (s.count !== 0 || s.enqueued !== s.dequeued) throw new Error(`${c.id}: ring not drained: ${JSON.stringify(s)}`);
    }
    rates.sort((a, b) => a - b);
    const med = rates[rates.length >> 1];
    console.log(`  ${c.id.padEnd(10)} median ${(med / 1e6).toFixed(2).padStart(6)} M/s   best ${(rates[rates.length - 1] / 1e6).toFixed(2).padStart(6)} M/s   (${rates.map((x) => (x / 1e6).toFixed(1)).join(', ')})`);
    for (const w of workers) w.postMessage('exit');
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
    ring.destroy();
  }

  if (values['skip-single']) return;
  const Benchmark = (await import('benchmark')).default;
  console.log('\npart 2: one thread, burst enqueue + dequeue of 32 (ns per descriptor)');
  // A single-worker runtime, as bench/index.js: a multi-worker one runs DescriptorRing's exports
  // under the runtime lock (src/shared.ts), which would weigh on the baseline only.
  const one = await createRuntime();
  const sp = createSharedRing(one, { capacity: 256, producers: 'single', consumers: 'single' });
  const mp = createSharedRing(one, { capacity: 256 });
  const plain = one.createRing({ capacity: 256 });
  const buf = one.u32Batch(BURST * W);
  const suite = new Benchmark.Suite('xring');
  let sink = 0;
  suite
    .add('xring.sp', () => { sink += sp.enqueueBurst(buf, BURST); sink += sp.dequeueBurst(buf, BURST); })
    .add('xring.mp', () => { sink += mp.enqueueBurst(buf, BURST); sink += mp.dequeueBurst(buf, BURST); })
    .add('ring.ndis', () => { sink += plain.enqueueBurst(buf, BURST); sink += plain.dequeueBurst(buf, BURST); })
    .on('cycle', (e) => {
      const t = e.target;
      console.log(`  ${t.name.padEnd(10)} ${((t.stats.mean * 1e9) / BURST).toFixed(3).padStart(8)} ns/descriptor  ±${t.stats.rme.toFixed(2)}%  (${t.stats.sample.length} samples)`);
    })
    .run({ maxTime: 3 });
  const mean = (name) => suite.filter((b) => b.name === name)[0].stats.mean;
  const base = mean('ring.ndis');
  console.log(`  ratios to ring.ndis: xring.sp ${(mean('xring.sp') / base).toFixed(2)}, xring.mp ${(mean('xring.mp') / base).toFixed(2)}`);
  if (sink < 0) console.log(sink);
}
