/**
 * Soak test (`npm run soak`, not in CI): runs the vNIC hub loopback (bench/vnic.js: two virtual
 * adapters, bursts of 64 frames through send → hub → indicate → return) at full rate for a set
 * time, alternating 64- and 1514-byte frames, and checks that memory in use comes back to where
 * it started: the runtime's slot bytes and objects outstanding (poolmon), its linear memory, and
 * the JS heap after a GC. Exits 1 when anything grew or an object was lost.
 *
 *   node bench/soak.js [--seconds 60] [--json]
 */
import { parseArgs } from 'node:util';
import { createRuntime } from '../build/ts/runtime.js';
import { makeLoopback } from './vnic.js';

const { values: args } = parseArgs({
  options: { seconds: { type: 'string', default: '60' }, json: { type: 'boolean', default: false } },
  strict: true,
});
const seconds = Number(args.seconds);
if (!(seconds > 0)) {
  console.error('--seconds must be a positive number');
  process.exit(2);
}
const gc = globalThis.gc ?? (() => undefined);
const heap = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

const rt = await createRuntime();
const loops = [makeLoopback(rt, 64), makeLoopback(rt, 1514)];
// Warm up, then take the baseline.
for (let i = 0; i < 200; i++) for (const l of loops) l.round();
const outstanding = () => rt.poolmon().reduce((n, r) => n + r.outstanding, 0);
const start = { used: rt.memoryReport().usedBytes, outstanding: outstanding(), memory: rt.memory.buffer.byteLength, heap: heap() };

const t0 = performance.now();
const end = t0 + seconds * 1000;
let frames = 0;
let rounds = 0;
let nextReport = t0 + 10_000;
while (performance.now() < end) {
  for (let i = 0; i < 100; i++) frames += loops[rounds++ & 1].round();
  if (!args.json && performance.now() >= nextReport) {
    nextReport += 10_000;
    const s = (performance.now() - t0) / 1000;
    console.log(`${s.toFixed(0)} s: ${frames} frames (${(frames / s / 1e6).toFixed(2)} M/s), ${rt.memoryReport().usedBytes} bytes in use`);
  }
}
const elapsed = (performance.now() - t0) / 1000;
const after = { used: rt.memoryReport().usedBytes, outstanding: outstanding(), memory: rt.memory.buffer.byteLength, heap: heap() };
const counters = loops.flatMap((l) => l.stats().counters);
for (const l of loops) l.close();
const final = outstanding();

// The JS heap may wobble by a few hundred KiB (JIT code, benchmark bookkeeping): allow 1 MiB.
const ok = after.used === start.used && after.outstanding === start.outstanding && after.memory === start.memory &&
  after.heap - start.heap < 1 << 20 && final === 0 && counters.every((c) => c.framesDropped === 0);
const result = { seconds: elapsed, frames, framesPerSecond: frames / elapsed, start, after, outstandingAfterTeardown: final, ok };
if (args.json) console.log(JSON.stringify(result, null, 2));
else {
  console.log(`soak: ${frames} frames in ${elapsed.toFixed(1)} s (${(frames / elapsed / 1e6).toFixed(2)} M frames/s)`);
  console.log(`  slot bytes in use: ${start.used} -> ${after.used}; objects outstanding: ${start.outstanding} -> ${after.outstanding}`);
  console.log(`  linear memory: ${start.memory} -> ${after.memory} bytes; JS heap after GC: ${start.heap} -> ${after.heap}`);
  console.log(`  after teardown: ${final} objects outstanding`);
  console.log(ok ? 'soak: memory returned to its starting value, nothing lost' : 'soak: FAILED (memory grew or objects were lost)');
}
process.exit(ok ? 0 : 1);
