/**
 * The fuzz harness core: one `Fuzz` per run holds the runtime under test, a second ("foreign")
 * runtime, the reference model's registry of every object the run allocated, the poolmon
 * counter model, the call wrappers that check valid and invalid calls, and the per-step
 * invariants (counters, overlap, sampled object state).
 *
 * Model conventions (every area module follows them):
 * - `fz.live` maps an address to the model object allocated there (`kind`, `addr`, `size` for
 *   the overlap check, `name` for traces). Generational SlabPool handles are not addresses and
 *   live in their pool's model instead.
 * - A valid call goes through `fz.ok(label, fn)`: it must not throw; the area then checks the
 *   result against the model and updates the model.
 * - An invalid call goes through `fz.bad(label, rules, fn, targets)`: it must throw an
 *   NdisBugCheck whose rule is one of `rules`, and afterwards the runtime's counters (poolmon,
 *   SlabPool and ring statistics) and the `targets`' observable state must be as before.
 * - Exhaustion (small `maxMemory`) and fault injection make every allocation fallible: the area
 *   accepts NULL / NDIS_STATUS_RESOURCES there, calls `fz.allocFailed()`, and the counter model
 *   then adopts the runtime's allocs/frees/failures/peak (after checking that outstanding and
 *   bytes are still exactly the model's).
 */
import { createRuntimeSync } from '../../build/ts/runtime.js';
import { NdisBugCheck } from '../../build/ts/errors.js';

export { NdisBugCheck };

// -- constants ------------------------------------------------------------------------------------

/** Tags of the runtime's own allocations (poolmon shows them as 'Mdl ', 'NdRt', 'Ring', 'NDpp'). */
export const TAG = { MDL: 0x206c644d, RETREAT: 0x7452644e, RING: 0x676e6952, PACKET: 0x7070444e };

/** Row types whose objects come from size-class pools: bytes are checked within bounds. */
const MEMLIKE = new Set(['Memory', 'GenericObject', 'HandleTable', 'Ring', 'vNIC']);

export const ST = {
  SUCCESS: 0,
  PENDING: 0x103,
  FAILURE: 0xc0000001 | 0,
  RESOURCES: 0xc000009a | 0,
  INVALID_PARAMETER: 0xc000000d | 0,
  BAD_VERSION: 0xc0010004 | 0,
  BAD_CHARACTERISTICS: 0xc0010005 | 0,
  PAUSED: 0xc023002a | 0,
};

/** Rules a bad pointer (forged, stale, foreign, interior, wrong kind) may raise. */
export const PTR_RULES = ['ORIGIN', 'ALT-NB', 'ALT-NBL', 'ALT-MDL', 'ALT-GEN', 'ALT-MEM', 'ALT-POOL', 'PKT-1'];

/** Values that are not a u32 (the C types of every numeric parameter). */
export const NON_U32 = [NaN, -1, 1.5, 2 ** 32, Infinity, -Infinity, -0.25, 2 ** 40, 0x1_0000_0008, 'x', '8', {}, [], null, undefined, true, 7n];

export const hex = (/** @type {number} */ n) => '0x' + (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
export const round8 = (/** @type {number} */ n) => Math.max(8, Math.ceil(n / 8) * 8);

/** The slot bytes a size-class allocation of `len` may take: [lo, hi]. */
export function memBytesRange(len) {
  if (len > 32768) return [round8(len), round8(len)];
  const lo = Math.max(16, round8(len));
  return [lo, Math.ceil(lo * 1.25) + 8];
}

/** Driver callbacks run so far (every harness handler counts itself): a rejected call runs none. */
export const CB = { n: 0 };

export class FuzzFailure extends Error {
  constructor(message, extra = {}) {
    super(message);
    this.name = 'FuzzFailure';
    Object.assign(this, extra);
  }
}

// -- the poolmon model ----------------------------------------------------------------------------

/**
 * Per-pool counters the way poolmon aggregates them. Fixed-size pools (NB, NBL, MDL, Packet,
 * SlabPool) are modelled pool by pool (exact bytes and peak); size-class memory (Memory,
 * GenericObject, HandleTable, Ring) per (tag, type), with bytes between bounds.
 */
export class Counters {
  constructor() {
    /** @type {Map<number, any>} fixed pools by a model key */
    this.pools = new Map();
    /** @type {Map<string, any>} memory-like rows by `${tag}/${type}` */
    this.mem = new Map();
    /** @type {Map<string, {allocs:number, frees:number, failures:number, peak:number}>} adopted offsets */
    this.adj = new Map();
    /** @type {Map<string, number>} row peaks adopted after the runtime dropped a freed pool's counters */
    this.peakOverride = new Map();
    this.nextKey = 1;
  }

  /** A new fixed-size pool; returns its key. */
  newPool(tag, type, reqSize) {
    const key = this.nextKey++;
    this.pools.set(key, { key, tag: tag >>> 0, type, slot: round8(reqSize), live: true, allocs: 0, frees: 0, out: 0, peak: 0, failures: 0 });
    return key;
  }

  alloc(key, n = 1) {
    const p = this.pools.get(key);
    p.allocs += n;
    p.out += n;
    if (p.out > p.peak) p.peak = p.out;
  }

  free(key, n = 1) {
    const p = this.pools.get(key);
    p.frees += n;
    p.out -= n;
    if (p.out < 0) throw new Error(`model: pool ${key} outstanding below 0`);
  }

  fail(key) {
    this.pools.get(key).failures++;
  }

  /** The pool is freed (or destroyed with force: its objects count as freed). */
  retire(key) {
    const p = this.pools.get(key);
    p.frees += p.out;
    p.out = 0;
    p.live = false;
  }

  #memRow(tag, type) {
    const k = `${tag >>> 0}/${type}`;
    let r = this.mem.get(k);
    if (!r) this.mem.set(k, (r = { tag: tag >>> 0, type, allocs: 0, frees: 0, out: 0, lo: 0, hi: 0, failures: 0 }));
    return r;
  }

  memAlloc(tag, type, len) {
    const r = this.#memRow(tag, type);
    if (len < 0) r.loose = true; // objects whose size the model does not know (handle tables)
    const [lo, hi] = memBytesRange(len);
    r.allocs++;
    r.out++;
    r.lo += lo;
    r.hi += hi;
  }

  /** A size-class or large allocation under (tag, type) failed (its pool counts the failure). */
  memFail(tag, type) {
    this.#memRow(tag, type).failures++;
  }

  memFree(tag, type, len) {
    const r = this.#memRow(tag, type);
    const [lo, hi] = memBytesRange(len);
    r.frees++;
    r.out--;
    r.lo -= lo;
    r.hi -= hi;
  }

  /** Expected rows: Map key -> row (fields undefined where not modelled). */
  rows() {
    /** @type {Map<string, any>} */
    const rows = new Map();
    const get = (tag, type) => {
      const k = `${tag}/${type}`;
      let r = rows.get(k);
      if (!r) rows.set(k, (r = { tag, type, allocs: 0, frees: 0, outstanding: 0, bytes: 0, peak: 0, failures: 0, pools: 0 }));
      return r;
    };
    for (const p of this.pools.values()) {
      const r = get(p.tag, p.type);
      r.allocs += p.allocs;
      r.frees += p.frees;
      r.failures += p.failures;
      r.peak = Math.max(r.peak, p.peak);
      if (p.live) {
        r.outstanding += p.out;
        r.bytes += p.out * p.slot;
        r.pools++;
      }
    }
    for (const m of this.mem.values()) {
      const r = get(m.tag, m.type);
      r.allocs += m.allocs;
      r.frees += m.frees;
      r.outstanding += m.out;
      r.failures += m.failures;
      r.lo = m.lo;
      r.hi = m.hi;
      r.memlike = true;
      r.loose = !!m.loose;
    }
    for (const [k, a] of this.adj) {
      const r = rows.get(k) ?? (() => {
        const [tag, type] = k.split('/');
        return get(Number(tag), type);
      })();
      r.allocs += a.allocs;
      r.frees += a.frees;
      r.failures += a.failures;
      r.peak = Math.max(r.peak, a.peak);
    }
    for (const [k, pk] of this.peakOverride) {
      const r = rows.get(k);
      if (r) r.peak = Math.max(pk, ...[...this.pools.values()].filter((p) => `${p.tag}/${p.type}` === k).map((p) => p.peak));
    }
    for (const [k, r] of rows) {
      if (!(r.allocs > 0 || r.failures > 0 || r.outstanding > 0)) rows.delete(k);
      else if (MEMLIKE.has(r.type) && !r.memlike) Object.assign(r, { memlike: true, lo: 0, hi: 0, loose: r.type === 'HandleTable' });
    }
    return rows;
  }

  adjust(key, field, delta) {
    let a = this.adj.get(key);
    if (!a) this.adj.set(key, (a = { allocs: 0, frees: 0, failures: 0, peak: 0 }));
    if (field === 'peak') a.peak = Math.max(a.peak, delta);
    else a[field] += delta;
  }
}

// -- the harness ----------------------------------------------------------------------------------

/**
 * @typedef {object} FuzzConfig
 * @property {number} [maxMemory] runtime budget in bytes (small: exhaustion happens)
 * @property {{probability:number, seed:number}|null} [faults] fault injection
 * @property {boolean} [isolation] a foreign runtime's live handle must be rejected (issue 7)
 * @property {boolean} [verifier] verifier mode (quarantine, sites, LEAK-MDL / LEAK-MEM)
 * @property {boolean} [knownBugs] keep the calls that hit the known bugs and expect the documented behaviour (default); false: model what the runtime does instead
 * @property {boolean} [traceAll] keep every trace line (else the last 400)
 * @property {number} [deepEvery] steps between deep checks (memoryReport, forEachLive, all objects)
 */

export class Fuzz {
  /** @param {FuzzConfig} cfg @param {any[]} areas */
  constructor(cfg, areas) {
    this.cfg = cfg;
    this.areas = areas;
    const opts = {};
    if (cfg.maxMemory) opts.maxMemory = cfg.maxMemory;
    if (cfg.verifier) Object.assign(opts, { verifier: true, quarantine: 16 });
    this.rt = createRuntimeSync(opts);
    // The model has no time: a frozen clock keeps TIME-SEND (send deadlines, verifier mode) from
    // firing on wall-clock time in long campaigns.
    this.rt.clock = () => 0;
    this.small = !!cfg.maxMemory && cfg.maxMemory < 64 << 20;
    if (cfg.faults) this.rt.injectFaults(cfg.faults);
    /** Allocations may fail (NULL / RESOURCES) at any time. */
    this.mayFail = !!cfg.faults || this.small;
    this.isolation = cfg.isolation ?? false;
    /** @type {import('../../build/ts/runtime.js').NdisRuntime|null} */
    this.rt2 = null;
    /** @type {Fuzz|null} isolation runs: a second runtime driven through the same steps */
    this.shadow = null;
    /** @type {{kind:string, v:number}[]} values of the foreign runtime */
    this.foreign = [];
    /** @type {Map<number, any>} */
    this.live = new Map();
    /** @type {{addr:number, kind:string, name:string}[]} recently freed objects */
    this.dead = [];
    /** @type {Map<number, string>} names of freed addresses (for traces) */
    this.deadNames = new Map();
    this.counters = new Counters();
    /** @type {string[]} */
    this.trace = [];
    this.stepNo = 0;
    this.opName = '';
    this.failedAlloc = false;
    this.nextId = 1;
    this.calls = { ok: 0, bad: 0 };
    /** @type {Record<string, number>} invalid calls by defect kind */
    this.badKinds = {};
    for (const a of areas) a.init?.(this);
  }

  // -- trace and names ----------------------------------------------------------------------------

  log(line) {
    const t = this.trace;
    t.push(`${this.stepNo} ${line}`);
    if (!this.cfg.traceAll && t.length > 800) t.splice(0, 400);
  }

  /** A readable form of an argument: the model name of an address, else the value. */
  fmt(v) {
    if (typeof v === 'number') {
      const o = this.live.get(v);
      if (o) return o.name;
      const d = this.deadNames.get(v);
      if (d) return `${d}†`;
      return Number.isInteger(v) && v >= 0x10000 ? hex(v) : String(v);
    }
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'string') return JSON.stringify(v);
    if (typeof v === 'function') return 'fn';
    if (v instanceof Uint32Array) return `u32[${v.length}]`;
    if (v === null || v === undefined) return String(v);
    try {
      const s = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : typeof x === 'function' ? 'fn' : x));
      return s.length > 120 ? s.slice(0, 117) + '...' : s;
    } catch {
      return typeof v;
    }
  }

  call(fn, args) {
    return `${fn}(${args.map((a) => this.fmt(a)).join(', ')})`;
  }

  name(kind) {
    return `${kind}${this.nextId++}`;
  }

  fail(msg) {
    return new FuzzFailure(`step ${this.stepNo} (${this.opName}): ${msg}`, { step: this.stepNo, trace: this.trace.slice() });
  }

  // -- the object registry ------------------------------------------------------------------------

  /** Registers a newly allocated object (fails when the address is already live). */
  add(obj) {
    if (!obj.name) obj.name = this.name(obj.kind);
    const a = obj.addr;
    if (typeof a !== 'number' || a === 0 || a >>> 0 !== a) throw this.fail(`${obj.name}: allocator returned ${this.fmt(a)}`);
    const other = this.live.get(a);
    if (other) throw this.fail(`${obj.name} was allocated at ${hex(a)}, where ${other.name} is still live`);
    this.live.set(a, obj);
    this.deadNames.delete(a);
    return obj;
  }

  /** Removes a freed object from the registry and remembers its address as stale. */
  remove(obj) {
    if (this.live.get(obj.addr) !== obj) throw new Error(`model: ${obj.name} is not live`);
    this.live.delete(obj.addr);
    obj.dead = true;
    this.deadNames.set(obj.addr, obj.name);
    this.dead.push({ addr: obj.addr, kind: obj.kind, name: obj.name });
    if (this.dead.length > 256) this.dead.splice(0, 64);
  }

  /** Live model objects of `kind` (optionally filtered). */
  all(kind, pred) {
    const out = [];
    for (const o of this.live.values()) if (o.kind === kind && (!pred || pred(o))) out.push(o);
    return out;
  }

  /** A random live object of `kind` matching `pred`, or undefined. */
  any(r, kind, pred) {
    const a = this.all(kind, pred);
    return a.length ? r.pick(a) : undefined;
  }

  /** True when `v` is the address of a live model object whose kind is in `kinds`. */
  accepts(kinds, v) {
    const o = typeof v === 'number' ? this.live.get(v) : undefined;
    return !!o && kinds.includes(o.kind);
  }

  // -- bad values -----------------------------------------------------------------------------------

  /** A value that is not a u32. */
  badNumber(r) {
    return r.pick(NON_U32);
  }

  /** The foreign runtime, made on first use (a few objects of every kind). */
  foreignRt() {
    if (!this.rt2) {
      const rt2 = (this.rt2 = createRuntimeSync({}));
      for (const a of this.areas) a.foreign?.(this, rt2);
    }
    return this.rt2;
  }

  /**
   * A pointer that is not a live object of any kind in `kinds` (in this runtime): NULL, forged,
   * stale (a freed object), foreign (from the other runtime), interior (inside a live object) or
   * another kind's live object. `how` says which. With isolation on, a foreign value may coincide
   * with a live object here: the documented behaviour still makes it a bug check.
   * @param {import('./rng.mjs').Rng} r
   * @param {string[]} kinds
   * @param {{noNull?: boolean, noForeign?: boolean}} [opt]
   * @returns {{v:number, how:string}}
   */
  badPtr(r, kinds, opt = {}) {
    for (let tries = 0; tries < 20; tries++) {
      const how = r.weighted([
        [opt.noNull ? 0 : 1, 'null'], [2, 'forged'], [4, 'stale'], [2, 'foreign'], [3, 'interior'], [3, 'wrongkind'],
      ]);
      let v = 0;
      if (how === 'null') v = 0;
      else if (how === 'forged') {
        v = r.weighted([
          [2, () => r.u32()], [2, () => r.range(1, 0x20000)], [2, () => (r.range(1, 512) << 16) + r.pick([0, 8, 64, 0x78, 0xfff8])],
          [1, () => r.pick([8, 0xfffffff8, 0xffffffff, 0x7fffffff, 0x80000000])],
        ])();
      } else if (how === 'stale') {
        const d = this.dead.filter((x) => kinds.includes(x.kind));
        const pool = d.length ? d : this.dead;
        if (!pool.length) continue;
        v = r.pick(pool).addr;
      } else if (how === 'foreign') {
        if (opt.noForeign) continue;
        if (this.shadow) {
          // Isolation runs: the shadow runtime went through the same steps, so its objects sit
          // at the addresses of ours. Its handle must still be a bug check here (issue 7).
          const cands = this.shadow.all(r.pick(kinds)).filter((o) => o.size > 0);
          if (!cands.length) continue;
          return { v: r.pick(cands).addr, how: 'foreign (same address as an object here)' };
        }
        this.foreignRt();
        const f = this.foreign.filter((x) => kinds.includes(x.kind));
        if (!f.length) continue;
        v = r.pick(f).v;
        if (this.isolation) return { v, how };
      } else if (how === 'interior') {
        const o = this.randomLive(r, (x) => x.size > 1);
        if (!o) continue;
        v = o.addr + r.pick([1, 4, 8, 0x10, 0x58, 0x78, 0x88, 0x90]) % o.size;
        if (v === o.addr) v += 4;
      } else {
        const o = this.randomLive(r, (x) => !kinds.includes(x.kind));
        if (!o) continue;
        v = o.addr;
      }
      if (!this.accepts(kinds, v)) return { v, how };
    }
    return { v: 0xfffffff8, how: 'forged' };
  }

  /** Live model objects that hold a reference to `addr` (their `refs()` lists it). */
  referrers(addr) {
    const out = [];
    for (const o of this.live.values()) {
      if (o.refs && o.refs().includes(addr)) out.push(o);
    }
    return out;
  }

  // -- byte patterns (sentinels: memory the API must never write) --------------------------------

  fillPattern(addr, len, seed) {
    if (!len) return;
    const b = this.rt.bytes(addr, len);
    let x = (seed * 2654435761) >>> 0 || 1;
    for (let i = 0; i < len; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[i] = x;
    }
  }

  checkPattern(addr, len, seed, what) {
    if (!len) return;
    const b = this.rt.bytes(addr, len);
    let x = (seed * 2654435761) >>> 0 || 1;
    for (let i = 0; i < len; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      if (b[i] !== (x & 0xff)) throw this.fail(`${what}: byte ${i} at ${hex(addr + i)} was overwritten (0x${b[i].toString(16)}, expected 0x${(x & 0xff).toString(16)})`);
    }
  }

  checkZero(addr, len, what) {
    const b = this.rt.bytes(addr, len);
    for (let i = 0; i < len; i++) if (b[i] !== 0) throw this.fail(`${what}: byte ${i} at ${hex(addr + i)} is 0x${b[i].toString(16)}, expected 0`);
  }

  randomLive(r, pred) {
    // Sampling a few entries keeps this O(1)-ish on big registries.
    const vals = [...this.live.values()];
    for (let i = 0; i < 8 && vals.length; i++) {
      const o = vals[r.int(vals.length)];
      if (pred(o)) return o;
    }
    return vals.find(pred);
  }

  // -- calls ---------------------------------------------------------------------------------------

  /**
   * A valid call: must not throw.
   * @template T
   * @param {string} label
   * @param {() => T} fn
   * @returns {T}
   */
  ok(label, fn) {
    this.log(label);
    this.calls.ok++;
    try {
      return fn();
    } catch (e) {
      if (e instanceof FuzzFailure) throw e;
      throw this.fail(`valid call ${label} threw ${e instanceof Error ? e.stack : String(e)}`);
    }
  }

  /**
   * An invalid call: must throw NdisBugCheck with one of `rules`; nothing may change.
   * @param {string} label
   * @param {string[]|null} rules null: any rule
   * @param {() => unknown} fn
   * @param {any[]} [targets] model objects whose state must be unchanged
   * @param {string} [defect] what is wrong (statistics)
   */
  bad(label, rules, fn, targets = [], defect = 'other') {
    this.log(`${label}  !! expect ${rules ? rules.join('|') : 'bug check'}`);
    this.calls.bad++;
    this.badKinds[defect] = (this.badKinds[defect] ?? 0) + 1;
    const before = this.snapshot();
    const cb = CB.n;
    let err = null;
    let result;
    try {
      result = fn();
    } catch (e) {
      err = e;
    }
    if (err instanceof FuzzFailure) throw err;
    if (err === null) {
      throw this.fail(`invalid call ${label} did not throw (returned ${this.fmt(result)}); expected ${rules ? rules.join('|') : 'a bug check'} [${defect}]`);
    }
    if (!(err instanceof NdisBugCheck)) {
      throw this.fail(`invalid call ${label} threw ${err instanceof Error ? err.stack : String(err)}, not an NdisBugCheck [${defect}]`);
    }
    if (rules && !rules.includes(err.rule)) {
      throw this.fail(`invalid call ${label} raised ${err.rule} (${err.message}); expected ${rules.join('|')} [${defect}]`);
    }
    this.log(`   -> ${err.rule}: ${err.message.slice(0, 160)}`);
    if (CB.n !== cb) throw this.fail(`invalid call ${label} (${err.rule}) ran ${CB.n - cb} driver callback(s) before it threw`);
    const after = this.snapshot();
    if (after !== before) throw this.fail(`invalid call ${label} (${err.rule}) changed the runtime's counters:\n${diff(before, after)}`);
    for (const t of targets) if (t && !t.dead) this.verify(t, `after the rejected ${label}`);
    return err;
  }

  /** Counters that no rejected call may change. */
  snapshot() {
    const parts = [JSON.stringify(this.rt.poolmon()), JSON.stringify(this.rt.memoryReport().pools.map((p) => [p.handle, p.type, p.live]))];
    for (const a of this.areas) {
      const s = a.snapshot?.(this);
      if (s) parts.push(s);
    }
    return parts.join('\n');
  }

  /** Checks one model object against the runtime (dispatches to its area). */
  verify(obj, when = '') {
    for (const a of this.areas) if (a.verify?.(this, obj, when)) return;
  }

  /** Asserts a value equals the model's. */
  eq(what, got, want) {
    if (!Object.is(got, want) && !(typeof got === 'number' && typeof want === 'number' && got === want)) {
      throw this.fail(`${what}: runtime ${this.fmt(got)} (${String(got)}), model ${this.fmt(want)} (${String(want)})`);
    }
  }

  /**
   * A pool was freed: its counters stay in poolmon under its tag (README: per-tag counters are
   * exact). Known bug (report): when keeping them needs memory (the tag's first freed pool) and an
   * allocation fails, the runtime drops them; with knownBugs off the model follows.
   */
  retire(key) {
    const p = this.counters.pools.get(key);
    this.counters.retire(key);
    if (!this.mayFail || this.cfg.knownBugs !== false) return;
    const k = `${p.tag}/${p.type}`;
    const row = this.rt.poolmon().find((x) => x.tagValue === p.tag && x.type === p.type);
    const want = this.counters.rows().get(k);
    if (want && (!row || row.allocs < want.allocs || row.frees < want.frees || row.failures < want.failures)) {
      this.log(`(the runtime dropped the counters of the freed pool)`);
      this.counters.pools.delete(key);
      const now = this.counters.rows().get(k) ?? { allocs: 0, frees: 0, failures: 0 };
      const g = row ?? { allocs: 0, frees: 0, failures: 0, peak: 0 };
      this.counters.adjust(k, 'allocs', g.allocs - now.allocs);
      this.counters.adjust(k, 'frees', g.frees - now.frees);
      this.counters.adjust(k, 'failures', g.failures - now.failures);
      this.counters.peakOverride.set(k, g.peak);
    }
  }

  /**
   * Runs `fn` at DISPATCH_LEVEL in verifier mode (KeRaiseIrql / KeLowerIrql around it), as the
   * NdisDpr* calls need; at the current IRQL otherwise.
   */
  atDispatch(fn) {
    if (!this.cfg.verifier) return fn();
    const rt = this.rt;
    const old = { value: 0 };
    rt.KeRaiseIrql(2, old);
    try {
      return fn();
    } finally {
      rt.KeLowerIrql(old.value);
    }
  }

  /** An allocation failed (exhaustion or an injected fault): fails unless allocations may fail. */
  allocFailed(what) {
    if (!this.mayFail) throw this.fail(`${what} failed (NULL / RESOURCES) with memory to spare and no fault injection`);
    this.failedAlloc = true;
    this.allocFailures = (this.allocFailures ?? 0) + 1;
  }

  // -- steps and invariants -------------------------------------------------------------------------

  /** Runs one step: op `op` with the step's random stream `r`. */
  step(op, r) {
    this.stepNo++;
    this.opName = op.name;
    this.failedAlloc = false;
    // Faults are re-seeded from the step's own seed: which allocations fail in a step does not
    // depend on the steps before it, so a failing sequence still shrinks.
    if (this.cfg.faults) this.rt.injectFaults({ probability: this.cfg.faults.probability, seed: ((r.s ^ this.cfg.faults.seed) >>> 0) || 1 });
    op.run(this, r);
    this.checkCounters();
    this.checkOverlap();
    for (const a of this.areas) a.check?.(this, r);
    const every = this.cfg.deepEvery ?? 32;
    if (this.stepNo % every === 0) this.deepCheck();
  }

  /** poolmon rows against the model (adopting allocs/frees/failures/peak after an allocation failure). */
  checkCounters() {
    const got = new Map();
    for (const row of this.rt.poolmon()) got.set(`${row.tagValue}/${row.type}`, row);
    let want = this.counters.rows();
    if (this.failedAlloc) {
      // Adopt what an allocation failure may change invisibly to the model: allocations made
      // and undone inside the failed call (allocs and frees equally), failure counts, peaks.
      // Outstanding and bytes stay exact.
      for (const [k, g] of got) {
        const w = want.get(k) ?? { allocs: 0, frees: 0, outstanding: 0, failures: 0, peak: 0 };
        const da = g.allocs - w.allocs;
        const df = g.frees - w.frees;
        if (da < 0 || df < 0 || da !== df || g.failures < w.failures) continue;
        if (da) {
          this.counters.adjust(k, 'allocs', da);
          this.counters.adjust(k, 'frees', df);
        }
        if (g.failures > w.failures) this.counters.adjust(k, 'failures', g.failures - w.failures);
        if (g.peak > w.peak && !w.memlike) this.counters.adjust(k, 'peak', g.peak);
      }
      want = this.counters.rows();
    }
    for (const [k, w] of want) {
      const g = got.get(k);
      if (!g) throw this.fail(`poolmon has no row ${rowName(w)}; the model expects ${JSON.stringify(w)}`);
      // Handle tables grow (a new block, the old one freed) when the model does not look: only
      // their outstanding count is modelled.
      const fields = w.loose ? ['outstanding'] : w.memlike ? ['allocs', 'frees', 'outstanding', 'failures'] : ['allocs', 'frees', 'outstanding', 'bytes', 'peak', 'failures', 'pools'];
      for (const f of fields) {
        if (g[f] !== w[f]) throw this.fail(`poolmon ${rowName(w)} ${f} = ${g[f]}, model ${w[f]}\n  runtime ${JSON.stringify(g)}\n  model   ${JSON.stringify(w)}`);
      }
      if (w.memlike && !w.loose && (g.bytes < w.lo || g.bytes > w.hi)) {
        throw this.fail(`poolmon ${rowName(w)} bytes = ${g.bytes}, model [${w.lo}, ${w.hi}]`);
      }
      if (g.outstanding !== g.allocs - g.frees) throw this.fail(`poolmon ${rowName(w)}: outstanding ${g.outstanding} != allocs ${g.allocs} - frees ${g.frees}`);
    }
    for (const [k, g] of got) if (!want.has(k)) throw this.fail(`poolmon has an unexpected row ${JSON.stringify(g)}`);
  }

  /** No two live objects overlap; every object is 8-aligned and inside memory. */
  checkOverlap() {
    const iv = [];
    const memBytes = this.rt.memory.buffer.byteLength;
    for (const o of this.live.values()) {
      if (!(o.size > 0)) continue;
      iv.push(o);
    }
    iv.sort((a, b) => a.addr - b.addr);
    for (let i = 0; i < iv.length; i++) {
      const o = iv[i];
      if (o.addr % (o.align ?? 8) !== 0) throw this.fail(`${o.name} at ${hex(o.addr)} is not ${o.align ?? 8}-byte aligned`);
      if (o.addr + o.size > memBytes) throw this.fail(`${o.name} [${hex(o.addr)}, +${o.size}) runs past memory (${memBytes})`);
      if (i > 0) {
        const p = iv[i - 1];
        if (o.addr < p.addr + p.size) throw this.fail(`${p.name} [${hex(p.addr)}, +${p.size}) overlaps ${o.name} [${hex(o.addr)}, +${o.size})`);
      }
    }
  }

  /** Expensive checks: every object, per-pool live counts. */
  deepCheck() {
    for (const o of [...this.live.values()]) this.verify(o, 'deep check');
    const pools = this.rt.memoryReport().pools;
    const report = new Map(pools.map((p) => [p.handle, p]));
    for (const a of this.areas) a.deep?.(this, report);
    // Every pool of a kind the API hands out is one the model knows (none leaked by a rejected call).
    const kinds = { NB: 'nbPool', NBL: 'nblPool', Packet: 'pktPool', SlabPool: 'slabPool' };
    for (const p of pools) {
      const k = kinds[p.type];
      if (k && !this.accepts([k], p.handle)) throw this.fail(`memoryReport lists a ${p.type} pool ${hex(p.handle)} the model does not know (tag '${p.tag}', ${p.live} live)`);
    }
  }

  /** Frees everything the run still holds (each area, in order) and checks nothing is left. */
  teardown() {
    this.opName = 'teardown';
    this.stepNo++;
    if (this.cfg.faults) this.rt.injectFaults({ probability: 0 });
    this.deepCheck();
    for (const a of [...this.areas].reverse()) {
      a.teardown?.(this);
      this.checkCounters();
    }
    this.checkOverlap();
    const left = [...this.live.values()].filter((o) => !o.leakOk);
    if (left.length) throw this.fail(`teardown left ${left.length} object(s): ${left.slice(0, 10).map((o) => o.name).join(', ')}`);
    const rows = this.rt.poolmon().filter((r) => r.outstanding !== 0);
    const expectLeft = [...this.live.values()].length;
    if (rows.length && expectLeft === 0) throw this.fail(`poolmon still shows outstanding objects after teardown: ${JSON.stringify(rows)}`);
  }
}

function rowName(w) {
  const b = [0, 8, 16, 24].map((s) => String.fromCharCode((w.tag >>> s) & 0xff)).join('');
  return `'${b}'/${w.type}`;
}

function diff(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  const out = [];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) out.push(`  before ${x[i]}\n  after  ${y[i]}`);
  return out.join('\n');
}
