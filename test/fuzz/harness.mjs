/**
 * The fuzz harness: areas, the weighted step generator, runs, shrinking and reports.
 *
 * A run is { cfg, seed, len }: a runtime configuration (memory budget, fault injection,
 * isolation), and `len` steps derived from `seed`. Step i is a pair of u32s [op, stepSeed]: the
 * first picks the operation (weighted, among the ops of the selected areas), the second seeds the
 * step's own random stream. Each step picks its targets among the objects live at that moment,
 * so a step means something wherever it sits: a failing sequence can be shrunk by deleting steps.
 *
 * fast-check drives the runs (`runArb`, `runProperty`): it picks configurations and seeds,
 * reports the seed and path that reproduce a failure, and shrinks the configuration (no faults,
 * default budget) when the failure does not need it. `shrinkSteps` then deletes steps (ddmin)
 * while the same failure still happens, and `report` prints the minimal trace.
 */
import fc from 'fast-check';
import { Fuzz, FuzzFailure } from './core.mjs';
import { Rng } from './rng.mjs';
import { memArea } from './area-mem.mjs';
import { nbArea } from './area-nb.mjs';
import { nblArea } from './area-nbl.mjs';
import { dsArea } from './area-ds.mjs';
import { pktArea } from './area-pkt.mjs';
import { slabArea } from './area-slab.mjs';
import { ringArea } from './area-ring.mjs';
import { drvArea } from './area-drv.mjs';

/** Every area, in dependency order (teardown runs in reverse). */
export const AREAS = [memArea, nbArea, nblArea, dsArea, pktArea, slabArea, ringArea, drvArea];
export const AREA_NAMES = AREAS.map((a) => a.name);

/** Areas whose objects an area's ops need (their ops run too, at a lower weight). */
const NEEDS = { mem: [], nb: ['mem'], nbl: ['mem', 'nb'], ds: ['mem', 'nb', 'nbl'], pkt: ['mem'], slab: [], ring: [], drv: ['mem'] };

/**
 * The weighted op table for a focus: `areas` (null: all, evenly by their own weights). Areas the
 * focus needs run at a quarter of their weight.
 * @param {string[]|null} areas
 */
export function opTable(areas) {
  const focus = new Set(areas ?? AREA_NAMES);
  const deps = new Set([...focus].flatMap((a) => NEEDS[a] ?? []));
  const table = [];
  for (const a of AREAS) {
    const f = focus.has(a.name) ? 1 : deps.has(a.name) ? 0.25 : 0;
    if (!f) continue;
    for (const op of a.ops) table.push({ op, w: op.w * f });
  }
  let acc = 0;
  for (const t of table) t.cum = acc += t.w;
  return { table, total: acc };
}

function pickOp(ops, u) {
  const x = (u / 4294967296) * ops.total;
  let lo = 0;
  let hi = ops.table.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ops.table[mid].cum > x) hi = mid;
    else lo = mid + 1;
  }
  return ops.table[lo].op;
}

/** The `len` steps of run seed `seed`. */
export function genSteps(seed, len) {
  const r = new Rng((seed ^ 0x5bd1e995) >>> 0);
  const out = [];
  for (let i = 0; i < len; i++) out.push([r.u32(), r.u32()]);
  return out;
}

/**
 * Runs `steps` on a fresh runtime. Returns the harness and the failure (with the index of the
 * failing step), or no failure.
 * @param {any} cfg
 * @param {number[][]} steps
 * @param {{areas?: string[]|null, traceAll?: boolean, teardown?: boolean}} [opts]
 */
export function runSteps(cfg, steps, opts = {}) {
  const ops = opTable(opts.areas ?? cfg.areas ?? null);
  let fz = null;
  let i = 0;
  try {
    fz = new Fuzz({ ...cfg, traceAll: opts.traceAll }, AREAS);
    // Isolation: a shadow runtime takes the same steps (so its objects have our objects'
    // addresses) and lends them as foreign handles.
    const shadow = cfg.isolation ? new Fuzz({ ...cfg, isolation: false, faults: null }, AREAS) : null;
    fz.shadow = shadow;
    for (; i < steps.length; i++) {
      if (shadow) {
        try {
          shadow.step(pickOp(ops, steps[i][0]), new Rng(steps[i][1]));
        } catch {
          fz.shadow = null; // it diverged: no more twins
        }
      }
      fz.step(pickOp(ops, steps[i][0]), new Rng(steps[i][1]));
    }
    if (opts.teardown !== false) fz.teardown();
    return { fz, failure: null, index: -1 };
  } catch (e) {
    const failure = e instanceof FuzzFailure ? e : new FuzzFailure(`step ${fz?.stepNo ?? 0} (${fz?.opName ?? 'setup'}): harness error ${e instanceof Error ? e.stack : String(e)}`, { trace: fz?.trace ?? [] });
    return { fz, failure, index: i };
  }
}

/** A failure's signature: the op and the message with numbers, addresses and names taken out. */
export function signature(f) {
  const m = /^step \d+ \(([^)]*)\): ([^\n]*)/.exec(f.message);
  const text = (m ? `${m[1]}: ${m[2]}` : f.message.split('\n')[0])
    .replace(/0x[0-9A-Fa-f]+/g, 'X')
    .replace(/\b[a-zA-Z]+\d+\b/g, (w) => w.replace(/\d+$/, '#'))
    .replace(/\d+/g, 'N');
  return text.slice(0, 90);
}

/**
 * Deletes steps while the run still fails with the same signature (ddmin over the steps up to
 * the failing one). Bounded by `timeLimitMs`.
 */
export function shrinkSteps(cfg, steps, failure, index, opts = {}) {
  const sig = signature(failure);
  const deadline = Date.now() + (opts.timeLimitMs ?? 60_000);
  let cur = steps.slice(0, index + 1);
  let best = { failure, index };
  const fails = (cand) => {
    const res = runSteps(cfg, cand, { areas: opts.areas, teardown: false });
    if (res.failure && signature(res.failure) === sig) {
      best = { failure: res.failure, index: res.index };
      return res;
    }
    // A failure in teardown counts too when the steps all ran.
    return null;
  };
  let n = 2;
  while (cur.length >= 2 && Date.now() < deadline) {
    const chunk = Math.ceil(cur.length / n);
    let reduced = false;
    for (let s = 0; s < cur.length && Date.now() < deadline; s += chunk) {
      const cand = cur.slice(0, s).concat(cur.slice(s + chunk));
      const res = fails(cand);
      if (res) {
        cur = cand.slice(0, res.index + 1);
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= cur.length) break;
      n = Math.min(cur.length, n * 2);
    }
  }
  return { steps: cur, failure: best.failure, index: best.index };
}

// -- configurations ---------------------------------------------------------------------------------

/**
 * A run configuration: mostly the default budget without faults; some runs with a small memory
 * budget (exhaustion: NULL / RESOURCES anywhere) and some with fault injection.
 * @param {{isolation?: boolean, faults?: boolean, small?: boolean, verifier?: boolean, areas?: string[]|null, knownBugs?: boolean}} [o]
 */
export function cfgArb(o = {}) {
  // o.small / o.faults: false never, true always, undefined sometimes.
  const smallBudget = fc.constantFrom(3 << 20, 5 << 20);
  const budget = o.small === false ? fc.constant(0) : o.small === true ? smallBudget : fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: smallBudget });
  const someFaults = fc.record({ probability: fc.constantFrom(0.02, 0.08), seed: fc.integer({ min: 1, max: 0x7fffffff }) });
  const faults = o.faults === false ? fc.constant(null) : o.faults === true ? someFaults : fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: someFaults });
  const verifier = o.verifier === undefined ? fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) : fc.constant(o.verifier);
  return fc.record({ maxMemory: budget, faults, verifier }).map((c) => ({
    maxMemory: c.maxMemory || undefined,
    faults: c.faults,
    verifier: c.verifier,
    isolation: o.isolation ?? false,
    areas: o.areas ?? null,
    knownBugs: o.knownBugs ?? true,
  }));
}

/** A run: configuration, seed and length. */
export function runArb(len, o = {}) {
  return fc.record({ cfg: cfgArb(o), seed: fc.noShrink(fc.integer({ min: 0, max: 0x7fffffff })), len: fc.constant(len) });
}

/** Executes a run (throws its FuzzFailure, with the shrunk trace attached when `shrink`). */
export function execute(run, opts = {}) {
  const steps = genSteps(run.seed, run.len);
  const res = runSteps(run.cfg, steps);
  if (!res.failure) {
    if (opts.stats) accumulate(opts.stats, res.fz, run.len);
    return res.fz;
  }
  if (opts.shrink) {
    const sh = shrinkSteps(run.cfg, steps, res.failure, res.index, { timeLimitMs: opts.shrinkMs ?? 20_000 });
    const replay = runSteps(run.cfg, sh.steps, { traceAll: true, teardown: false });
    const f = replay.failure ?? sh.failure;
    f.message = `${f.message}\n\n${report(run, sh.steps, replay.failure ?? sh.failure)}`;
    throw f;
  }
  throw res.failure;
}

/** A readable account of a (shrunk) failing step sequence. */
export function report(run, steps, failure) {
  const lines = [];
  lines.push(`run: seed ${run.seed}, ${run.len} steps, config ${JSON.stringify(run.cfg)}`);
  lines.push(`shrunk to ${steps.length} step(s): ${JSON.stringify(steps)}`);
  lines.push('trace (step number, call; "!!" marks a call the model expects to be rejected):');
  const t = failure.trace ?? [];
  for (const l of t.slice(-200)) lines.push(`  ${l}`);
  return lines.join('\n');
}

/** Adds a finished run's figures to `stats`. */
export function accumulate(stats, fz, steps) {
  stats.runs = (stats.runs ?? 0) + 1;
  stats.steps = (stats.steps ?? 0) + steps;
  stats.ok = (stats.ok ?? 0) + fz.calls.ok;
  stats.bad = (stats.bad ?? 0) + fz.calls.bad;
  stats.faults = (stats.faults ?? 0) + fz.rt.faultsInjected();
  stats.allocFailures = (stats.allocFailures ?? 0) + (fz.allocFailures ?? 0);
  stats.defects = stats.defects ?? {};
  for (const [k, v] of Object.entries(fz.badKinds)) stats.defects[k] = (stats.defects[k] ?? 0) + v;
  stats.ops = stats.ops ?? {};
}

/**
 * Runs `numRuns` runs of `len` steps with fast-check (fixed `seed`): returns the figures, or
 * throws an Error whose message has the failure, the command that replays the failing run and
 * the shrunk trace.
 * @param {{len: number, numRuns: number, seed: number, o?: any, shrinkMs?: number}} p
 */
export function checkRuns({ len, numRuns, seed, o = {}, shrinkMs = 20_000 }) {
  const stats = {};
  const details = fc.check(fc.property(runArb(len, o), (run) => { execute(run, { stats }); }), { seed, numRuns, endOnFailure: true });
  if (!details.failed) return stats;
  const run = details.counterexample?.[0];
  const steps = genSteps(run.seed, run.len);
  const res = runSteps(run.cfg, steps);
  if (!res.failure) throw new Error(`fuzz run failed but does not fail on replay: ${String(details.errorInstance)}`);
  const sh = shrinkSteps(run.cfg, steps, res.failure, res.index, { timeLimitMs: shrinkMs });
  const replay = runSteps(run.cfg, sh.steps, { traceAll: true, teardown: false });
  const f = replay.failure ?? sh.failure;
  throw new Error(`${res.failure.message.split('\n').slice(0, 12).join('\n')}\n\nreplay: node test/fuzz/run.mjs --replay '${JSON.stringify(run)}'\n(fast-check seed ${details.seed}, path ${details.counterexamplePath})\n\n${report(run, sh.steps, f)}`);
}

/** The fast-check property of `numRuns` runs of `len` steps. */
export function runProperty(len, o = {}, opts = {}) {
  return fc.property(runArb(len, o), (run) => {
    execute(run, opts);
  });
}
