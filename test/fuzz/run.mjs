#!/usr/bin/env node
/**
 * The fuzz harness from the command line (after `npm run build`):
 *
 *   npm run fuzz -- --steps 1000000 --seed 42
 *   node test/fuzz/run.mjs --steps 200000 --seed 7 --len 3000 --areas nbl,ds --isolation
 *   node test/fuzz/run.mjs --replay '{"cfg":{...},"seed":123,"len":2000}'
 *
 * Options: --steps N (total, default 100000), --seed S (fast-check seed, default: time), --len L
 * (steps per run, default 2000), --areas a,b (focus: mem nb nbl ds pkt slab ring drv), --isolation
 * (a foreign runtime's live handle must be rejected), --no-faults, --no-small (no exhaustion
 * runs), --no-known-bugs (leave out the invalid calls that hit the bugs the report lists),
 * --shrink-ms T (time for step shrinking, default 120000), --path P (fast-check replay path),
 * --replay JSON (one run, printed with its full trace).
 *
 * On failure it prints the seed and path that reproduce it, the failing run (configuration, run
 * seed) and the shrunk step sequence with its trace, and exits with status 1.
 */
import fc from 'fast-check';
import { runArb, execute, runSteps, genSteps, shrinkSteps, report, accumulate, AREA_NAMES } from './harness.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const flag = (name) => args.includes(`--${name}`);

if (flag('help') || flag('h')) {
  console.log('usage: run.mjs [--steps N] [--seed S] [--len L] [--areas a,b] [--isolation] [--no-faults] [--no-small] [--no-known-bugs] [--shrink-ms T] [--path P] [--replay JSON]');
  process.exit(0);
}

const steps = Number(opt('steps', 100000));
const len = Number(opt('len', 2000));
const seed = Number(opt('seed', Date.now() % 0x7fffffff));
const areas = opt('areas', null)?.split(',') ?? null;
if (areas) for (const a of areas) if (!AREA_NAMES.includes(a)) throw new Error(`unknown area ${a} (${AREA_NAMES.join(', ')})`);
const shrinkMs = Number(opt('shrink-ms', 120000));
const o = { isolation: flag('isolation'), faults: flag('no-faults') ? false : undefined, small: flag('no-small') ? false : undefined, areas, knownBugs: !flag('no-known-bugs') };

function shrinkAndReport(run, failure, index) {
  const all = genSteps(run.seed, run.len);
  console.log(`\nshrinking the failing run (up to ${shrinkMs} ms)…`);
  const sh = shrinkSteps(run.cfg, all, failure, index, { timeLimitMs: shrinkMs });
  const replay = runSteps(run.cfg, sh.steps, { traceAll: true, teardown: false });
  console.log(report(run, sh.steps, replay.failure ?? sh.failure));
  console.log(`\nfailure: ${(replay.failure ?? sh.failure).message.split('\n').slice(0, 8).join('\n')}`);
}

const replayArg = opt('replay', null);
if (replayArg) {
  const run = JSON.parse(replayArg);
  const res = runSteps(run.cfg, genSteps(run.seed, run.len), { traceAll: true });
  if (!res.failure) {
    console.log(`run ${JSON.stringify(run)} passed (${res.fz.calls.ok} valid calls, ${res.fz.calls.bad} rejected)`);
    process.exit(0);
  }
  console.log(res.failure.message);
  shrinkAndReport(run, res.failure, res.index);
  process.exit(1);
}

const numRuns = Math.max(1, Math.ceil(steps / len));
const stats = {};
const t0 = performance.now();
let done = 0;
console.log(`fuzz: ${numRuns} run(s) of ${len} steps, seed ${seed}${areas ? `, areas ${areas.join(',')}` : ''}${o.isolation ? ', isolation' : ''}`);
const details = fc.check(
  fc.property(runArb(len, o), (run) => {
    execute(run, { stats });
    done++;
    if (done % 10 === 0) process.stdout.write(`\r${done}/${numRuns} runs, ${stats.steps} steps, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }),
  { seed, numRuns, path: opt('path', undefined), endOnFailure: false },
);
console.log('');
if (!details.failed) {
  const s = /** @type {any} */ (stats);
  console.log(`ok: ${s.runs} runs, ${s.steps} steps (${s.ok} valid calls, ${s.bad} rejected calls, ${s.faults} faults injected) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`rejected calls by defect: ${JSON.stringify(s.defects)}`);
  process.exit(0);
}
const run = details.counterexample?.[0];
console.log(`FAILED after ${details.numRuns} run(s): reproduce with --seed ${details.seed} --path ${details.counterexamplePath} (same --len/--areas/flags)`);
console.log(`failing run: --replay '${JSON.stringify(run)}'`);
const res = runSteps(run.cfg, genSteps(run.seed, run.len));
if (!res.failure) {
  console.log(String(details.errorInstance ?? details.error));
  process.exit(1);
}
console.log(res.failure.message.split('\n').slice(0, 6).join('\n'));
shrinkAndReport(run, res.failure, res.index);
process.exit(1);
