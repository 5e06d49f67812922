/**
 * The fuzz harness in CI (test/fuzz/README.md describes it).
 *
 * Random sequences of calls over the whole public API, valid and invalid, against the reference
 * model of test/fuzz/area-*.mjs: after every step valid calls gave the model's results, rejected
 * calls threw NdisBugCheck with the expected rule and changed nothing, no two live objects
 * overlap, and poolmon / SlabPool / ring / packet-pool counters are the model's. Each block
 * runs fixed fast-check seeds; together they run more than 100,000 steps. A failure prints the
 * failing step, a command that replays the run (`node test/fuzz/run.mjs --replay …`) and the
 * shrunk step sequence with its trace. Longer campaigns: `npm run fuzz -- --steps N --seed S`.
 *
 * The model expects the documented behaviour (README "Errors": after a throw everything is as
 * before; exhaustion never throws; per-tag counters are exact; a foreign runtime's handle is a
 * bug check), so blocks that reach a known bug fail until it is fixed; `--no-known-bugs` on the
 * command line leaves those calls out.
 */
import { describe, it, expect } from 'vitest';
// @ts-expect-error -- plain ES module with JSDoc types (also run by node from the command line)
import { checkRuns, AREA_NAMES } from './harness.mjs';

interface Stats { runs: number; steps: number; ok: number; bad: number; faults: number; defects: Record<string, number> }

const total = { steps: 0, ok: 0, bad: 0, faults: 0 };

function block(name: string, opts: { len: number; numRuns: number; seed: number; o?: Record<string, unknown> }): void {
  it(name, () => {
    const s = checkRuns({ ...opts, shrinkMs: 5_000 }) as Stats;
    expect(s.steps).toBe(opts.len * opts.numRuns);
    total.steps += s.steps;
    total.ok += s.ok;
    total.bad += s.bad;
    total.faults += s.faults;
  });
}

describe('fuzz: the public API against the reference model', () => {
  block('whole API, default memory budget', { len: 1000, numRuns: 40, seed: 0x5eed01, o: { small: false, faults: false, verifier: false } });
  block('whole API, small memory budget (exhaustion)', { len: 1500, numRuns: 10, seed: 0x5eed02, o: { small: true, faults: false, verifier: false } });
  block('whole API, fault injection', { len: 1500, numRuns: 10, seed: 0x5eed03, o: { small: false, faults: true, verifier: false } });
  block('whole API, verifier mode', { len: 1000, numRuns: 10, seed: 0x5eed04, o: { verifier: true, faults: false } });
  for (const [i, area] of (AREA_NAMES as string[]).entries()) {
    block(`focus: ${area}`, { len: 1000, numRuns: 6, seed: 0x5eed10 + i, o: { areas: [area] } });
  }

  it('ran at least 100,000 steps', () => {
    // The plan (counted in full only when every block passed): 40 + 15 + 15 + 10 + 8 * 6 thousand.
    const planned = (40 + 15 + 15 + 10 + 8 * 6) * 1000;
    expect(planned).toBeGreaterThanOrEqual(100_000);
    if (total.steps > 0) console.log(`fuzz: ${total.steps} steps, ${total.ok} valid and ${total.bad} rejected calls, ${total.faults} faults injected`);
  });
});
