/**
 * Area "slab": the idiomatic SlabPool (runtime.createSlabPool with pointer or generational
 * handles; alloc, tryAlloc, lease, free, allocMany, freeMany with u32Batch and plain arrays, ptr,
 * bytes, stats, forEachLive, destroy with and without force).
 *
 * Model objects:
 *   slabPool {pool (the JS SlabPool), gen, objSize, tagValue, max, key, handles: Map<handle, slabObj>}
 *   slabObj  {pool, handle, seed}   registered at its address; `handle` is what alloc returned
 * Destroyed pools stay in `fz.deadSlabPools` (every call on them is ALT-POOL).
 */
import { PTR_RULES, hex, round8 } from './core.mjs';

const TAGS = ['Fz1', 'FzSl', 'Slab', 0x6b6c6253, 'x'];

function tagValue(t) {
  if (typeof t === 'number') return t >>> 0;
  let v = 0;
  for (let i = 0; i < t.length; i++) v |= t.charCodeAt(i) << (8 * i);
  return v >>> 0;
}

function addObj(fz, sp, ptr, handle) {
  const o = fz.add({ kind: 'slabObj', addr: ptr, size: sp.objSize, pool: sp, handle, seed: fz.nextId * 48271 });
  sp.handles.set(handle, o);
  fz.fillPattern(ptr, Math.min(sp.objSize, 256), o.seed);
  return o;
}

function dropObj(fz, sp, o) {
  fz.checkPattern(o.addr, Math.min(sp.objSize, 256), o.seed, `${o.name} before free`);
  sp.handles.delete(o.handle);
  fz.remove(o);
  if (sp.gen) sp.stale.push(o.handle);
  if (sp.stale.length > 64) sp.stale.shift();
}

/** A value `sp.pool.free` must refuse (and what it is). */
function badHandle(fz, r, sp) {
  const others = fz.all('slabObj', (o) => o.pool !== sp);
  for (let i = 0; i < 10; i++) {
    const how = r.weighted([[3, 'stale'], [2, 'forged'], [2, 'other pool'], [2, 'interior'], [1, 'wrong kind'], [1, 'foreign']]);
    let v;
    if (how === 'stale') v = sp.gen ? (sp.stale.length ? r.pick(sp.stale) : undefined) : fz.dead.filter((d) => d.kind === 'slabObj').map((d) => d.addr).at(-1 - r.int(4));
    else if (how === 'forged') v = sp.gen ? r.pick([r.u32(), r.range(1, 5000), (r.range(1, 20) << 20) | r.range(1, 100)]) : r.pick([r.u32(), (r.range(1, 300) << 16) + 8 * r.int(100)]);
    else if (how === 'other pool') v = others.length ? r.pick(others).handle : undefined;
    else if (how === 'interior') {
      const o = fz.any(r, 'slabObj', (x) => x.pool === sp && x.size > 1);
      v = o ? (sp.gen ? o.handle ^ (1 << r.int(8)) : o.addr + 1 + r.int(o.size - 1)) : undefined;
    } else if (how === 'wrong kind') v = fz.randomLive(r, (x) => x.kind !== 'slabObj')?.addr;
    else if (fz.shadow) {
      // Isolation: the shadow's pool at our pool's address hands out the same handles.
      const twin = fz.shadow.all('slabPool').find((p) => p.addr === sp.addr);
      const hs = twin ? [...twin.handles.keys()] : [];
      if (hs.length) return { v: r.pick(hs), how: 'foreign (same handle as an object here)' };
      continue;
    } else {
      fz.foreignRt();
      const f = fz.foreign.filter((x) => x.kind === 'slabObj');
      v = f.length ? r.pick(f).v : undefined;
      if (v !== undefined && fz.isolation) return { v, how };
    }
    if (v === undefined || v === 0) continue;
    if (!sp.handles.has(v)) return { v, how };
  }
  return { v: 0xfffffff8, how: 'forged' };
}

export const slabArea = {
  name: 'slab',

  init(fz) {
    fz.deadSlabPools = [];
    fz.batch = fz.rt.u32Batch(64);
  },

  foreign(fz, rt2) {
    const sp = rt2.createSlabPool({ objectSize: 48 });
    fz.foreign.push({ kind: 'slabPool', v: sp.handle });
    fz.foreign.push({ kind: 'slabObj', v: sp.alloc() });
  },

  snapshot(fz) {
    return fz.all('slabPool').map((sp) => JSON.stringify(sp.pool.stats())).join('\n');
  },

  ops: [
    {
      name: 'slab.create', w: 2,
      run(fz, r) {
        const rt = fz.rt;
        if (fz.all('slabPool').length >= 5 && r.chance(0.8)) return;
        const gen = r.chance(0.4);
        const objectSize = r.weighted([[6, () => r.range(1, 256)], [2, () => r.range(257, 4096)], [fz.small ? 0.5 : 0.1, () => 300000]])();
        const tag = r.pick(TAGS);
        const max = r.chance(0.5) ? undefined : r.range(0, 40);
        const opts = { objectSize, tag, maxOutstanding: max, handles: gen ? 'generational' : 'pointer' };
        if (r.chance(0.12)) {
          const [k, x] = r.pick([
            ['objectSize', r.pick([0, NaN, -1, 1.5, 0xfff00001, '8', undefined])],
            ['tag', r.pick(['', 'toolong', '\x01', {}, -1, 1.5])],
            ['maxOutstanding', r.pick([-1, 0xffffffff, 1.5, NaN, '3'])],
            ['handles', r.pick(['pointers', 1, null])],
            ['maxWaiters', r.pick([-1, 1.5, 'x'])],
            ['maxOutstanding', gen ? 2 ** 24 : -1],
          ]);
          const o = { ...opts, [k]: x };
          if (k === 'handles' && x === null) o.handles = 'bogus';
          fz.bad(fz.call('createSlabPool', [o]), ['PARAM'], () => rt.createSlabPool(o), [], `bad option ${k}`);
          return;
        }
        if (r.chance(0.03)) {
          const o = r.pick([null, 5, 'x']);
          fz.bad(fz.call('createSlabPool', [o]), ['PARAM'], () => rt.createSlabPool(/** @type {any} */ (o)), [], 'non-object');
          return;
        }
        const pool = fz.ok(fz.call('createSlabPool', [opts]), () => rt.createSlabPool(opts));
        if (!pool) return fz.allocFailed('createSlabPool');
        const tv = tagValue(tag);
        const key = fz.counters.newPool(tv, 'SlabPool', objectSize);
        fz.eq('SlabPool.handles', pool.handles, gen ? 'generational' : 'pointer');
        fz.eq('SlabPool.objectSize', pool.objectSize, objectSize);
        fz.eq('SlabPool.tag', pool.tag, tv);
        const sp = fz.add({ kind: 'slabPool', addr: pool.handle, size: 128, pool, gen, objSize: objectSize, tagValue: tv, max: max ?? Infinity, key, handles: new Map(), stale: [] });
        if (gen) fz.counters.memAlloc(tv, 'HandleTable', -1);
        slabArea.verifyPool(fz, sp, 'fresh');
      },
    },
    {
      name: 'slab.destroy', w: 1,
      run(fz, r) {
        const sp = fz.any(r, 'slabPool');
        const v = r.int(8);
        if (v === 0 && fz.deadSlabPools.length) {
          const p = r.pick(fz.deadSlabPools);
          const fn = r.pick(['alloc', 'free', 'destroy', 'stats', 'allocMany', 'freeMany', 'ptr', 'bytes', 'forEachLive', 'lease']);
          const arg = fn === 'allocMany' || fn === 'freeMany' ? new Uint32Array(1) : fn === 'forEachLive' ? () => {} : 8;
          fz.bad(`(destroyed ${hex(p.handle0)}).${fn}()`, ['ALT-POOL'], () => /** @type {any} */ (p)[fn](arg), [], 'destroyed pool');
          return;
        }
        if (!sp) return;
        if (sp.handles.size > 0 && v < 4) {
          fz.bad(`${sp.name}.destroy()`, ['POOL-5'], () => sp.pool.destroy(), [sp], 'pool with objects');
          return;
        }
        const force = sp.handles.size > 0 || r.chance(0.5);
        for (const o of sp.handles.values()) fz.checkPattern(o.addr, Math.min(sp.objSize, 256), o.seed, `${o.name} before forced destroy`);
        slabArea.verifyPool(fz, sp, 'before destroy');
        fz.ok(`${sp.name}.destroy(${force ? '{force}' : ''})`, () => sp.pool.destroy(force ? { force: true } : undefined));
        for (const o of [...sp.handles.values()]) fz.remove(o);
        sp.handles.clear();
        fz.retire(sp.key);
        if (sp.gen) fz.counters.memFree(sp.tagValue, 'HandleTable', -1);
        sp.pool.handle0 = sp.addr;
        fz.deadSlabPools.push(sp.pool);
        fz.remove(sp);
      },
    },
    {
      name: 'slab.alloc', w: 6,
      run(fz, r) {
        const sp = fz.any(r, 'slabPool');
        if (!sp) return;
        const how = r.weighted([[6, 'alloc'], [1, 'tryAlloc'], [2, 'lease']]);
        let lease = null;
        const h = fz.ok(`${sp.name}.${how}()`, () => {
          if (how !== 'lease') return sp.pool[how]();
          lease = sp.pool.lease();
          return lease ? lease.handle : 0;
        });
        if (sp.handles.size >= sp.max) {
          fz.eq(`${sp.name}.${how}() at maxOutstanding`, h, 0);
          fz.counters.fail(sp.key);
          return;
        }
        if (h === 0) return fz.allocFailed(`${sp.name}.${how}()`);
        const ptr = sp.gen ? sp.pool.ptr(h) : h;
        if (sp.gen && sp.handles.has(h)) throw fz.fail(`${sp.name} issued handle ${hex(h)} twice`);
        fz.counters.alloc(sp.key);
        const o = addObj(fz, sp, ptr, h);
        if (lease) {
          fz.eq(`${o.name} lease.ptr`, lease.ptr, ptr);
          if (r.chance(0.5)) {
            // Dispose at once (freeing it), then misuse the spent lease.
            dropObj(fz, sp, o);
            fz.ok(`lease(${o.name})[Symbol.dispose]()`, () => lease[Symbol.dispose]());
            fz.counters.free(sp.key);
            const m = r.pick(['release', 'ptr', 'handle', Symbol.dispose]);
            fz.bad(`lease(${o.name}).${String(m)} after dispose`, ['ALT-POOL'], () => (typeof lease[m] === 'function' ? lease[m]() : lease[m]), [], 'spent lease');
          }
        }
      },
    },
    {
      name: 'slab.free', w: 5,
      run(fz, r) {
        const sp = fz.any(r, 'slabPool');
        if (!sp) return;
        const v = r.int(10);
        if (v <= 2 || sp.handles.size === 0) {
          const { v: x, how } = r.chance(0.85) ? badHandle(fz, r, sp) : { v: fz.badNumber(r), how: 'non-u32' };
          const rules = how === 'non-u32' ? ['PARAM'] : PTR_RULES;
          fz.bad(`${sp.name}.free(${fz.fmt(x)})`, rules, () => sp.pool.free(x), [], how);
          return;
        }
        const o = r.pick([...sp.handles.values()]);
        dropObj(fz, sp, o);
        fz.ok(`${sp.name}.free(${o.name})`, () => sp.pool.free(o.handle));
        fz.counters.free(sp.key);
        if (r.chance(0.3)) {
          // The same handle again: a double free (or, in a pointer pool, maybe a new object's address).
          if (sp.gen || !fz.live.has(o.addr)) fz.bad(`${sp.name}.free(${o.name}) again`, PTR_RULES, () => sp.pool.free(o.handle), [], 'double free');
        }
      },
    },
    {
      name: 'slab.many', w: 4,
      run(fz, r) {
        const sp = fz.any(r, 'slabPool');
        if (!sp) return;
        const useBatch = r.chance(0.5);
        if (r.chance(0.5)) {
          // allocMany
          const k = r.weighted([[5, () => r.int(16)], [1, () => r.range(16, 64)]])();
          const out = useBatch ? fz.batch.subarray(0, k) : new Uint32Array(k);
          // A subarray of a batch is not the batch (it is copied through scratch): both paths run.
          const arr = useBatch && k === 64 ? fz.batch : out;
          if (r.chance(0.05)) {
            const x = r.pick([[1, 2], null, new Int32Array(2), 5]);
            fz.bad(`${sp.name}.allocMany(${fz.fmt(x)})`, ['PARAM'], () => sp.pool.allocMany(/** @type {any} */ (x)), [], 'non-Uint32Array');
            return;
          }
          const n = fz.ok(`${sp.name}.allocMany(u32[${arr.length}]${arr === fz.batch ? ' batch' : ''})`, () => sp.pool.allocMany(arr));
          const room = Math.max(0, sp.max - sp.handles.size);
          const want = Math.min(arr.length, room);
          if (n < want) fz.allocFailed(`${sp.name}.allocMany`);
          else fz.eq(`${sp.name}.allocMany count`, n, want);
          if (n < arr.length && want === n && n < arr.length) fz.counters.fail(sp.key);
          for (let i = 0; i < n; i++) {
            const h = arr[i];
            if (sp.handles.has(h)) throw fz.fail(`${sp.name}.allocMany returned live ${hex(h)} at ${i}`);
            fz.counters.alloc(sp.key);
            addObj(fz, sp, sp.gen ? sp.pool.ptr(h) : h, h);
          }
          return;
        }
        // freeMany: a random subset, with (sometimes) one bad entry: all or nothing.
        const objs = r.sample([...sp.handles.values()], r.int(Math.min(sp.handles.size, 20) + 1));
        const vals = objs.map((o) => o.handle);
        let bad = null;
        if (r.chance(0.35) || vals.length === 0) {
          const kind = r.weighted([[2, 'dup'], [3, 'bad']]);
          if (kind === 'dup' && vals.length) {
            vals.splice(r.int(vals.length + 1), 0, r.pick(vals));
            bad = 'duplicate entry';
          } else {
            const b = badHandle(fz, r, sp);
            vals.splice(r.int(vals.length + 1), 0, b.v);
            bad = b.how;
          }
        }
        const extra = r.chance(0.3) ? r.range(1, 3) : 0;
        const arr = useBatch && vals.length + extra <= 64 ? fz.batch.subarray(0, vals.length + extra) : new Uint32Array(vals.length + extra);
        const direct = useBatch && vals.length + extra === 64 ? fz.batch : arr;
        direct.set(vals);
        for (let i = vals.length; i < direct.length; i++) direct[i] = 0xfffffff8;
        const count = extra ? vals.length : r.chance(0.5) ? undefined : vals.length;
        if (r.chance(0.05)) {
          const c = r.pick([direct.length + 1, -1, 1.5, NaN, 'x']);
          fz.bad(`${sp.name}.freeMany(u32[${direct.length}], ${fz.fmt(c)})`, ['PARAM'], () => sp.pool.freeMany(direct, /** @type {any} */ (c)), [], 'bad count');
          return;
        }
        const label = `${sp.name}.freeMany([${vals.map((x) => fz.fmt(sp.handles.get(x)?.addr ?? x)).join(', ')}], ${count})`;
        if (bad) {
          fz.bad(label, PTR_RULES, () => sp.pool.freeMany(direct, count), objs, bad);
          return;
        }
        for (const o of objs) dropObj(fz, sp, o);
        fz.ok(label, () => sp.pool.freeMany(direct, count));
        fz.counters.free(sp.key, objs.length);
      },
    },
    {
      name: 'slab.query', w: 2,
      run(fz, r) {
        const sp = fz.any(r, 'slabPool');
        if (!sp) return;
        const v = r.int(5);
        if (v === 0) {
          const { v: x, how } = r.chance(0.85) ? badHandle(fz, r, sp) : { v: fz.badNumber(r), how: 'non-u32' };
          const fn = r.pick(['ptr', 'bytes']);
          fz.bad(`${sp.name}.${fn}(${fz.fmt(x)})`, how === 'non-u32' ? ['PARAM'] : PTR_RULES, () => sp.pool[fn](x), [], how);
          return;
        }
        if (v === 1) {
          const f = r.pick([5, null, 'x']);
          fz.bad(`${sp.name}.forEachLive(${fz.fmt(f)})`, ['PARAM'], () => sp.pool.forEachLive(/** @type {any} */ (f)), [], 'non-function');
          return;
        }
        slabArea.verifyPool(fz, sp, 'query');
      },
    },
  ],

  verify(fz, o, when) {
    if (o.kind === 'slabPool') return slabArea.verifyPool(fz, o, when), true;
    if (o.kind === 'slabObj') {
      const sp = o.pool;
      fz.eq(`${o.name}: ${sp.name}.ptr (${when})`, sp.pool.ptr(o.handle), o.addr);
      const b = sp.pool.bytes(o.handle);
      fz.eq(`${o.name}: bytes().byteOffset`, b.byteOffset, o.addr);
      fz.eq(`${o.name}: bytes().length`, b.length, sp.objSize);
      fz.checkPattern(o.addr, Math.min(sp.objSize, 256), o.seed, `${o.name} (${when})`);
      return true;
    }
    return false;
  },

  verifyPool(fz, sp, when) {
    const s = sp.pool.stats();
    const c = fz.counters.pools.get(sp.key);
    const w = `${sp.name}.stats() (${when})`;
    fz.eq(`${w}.outstanding`, s.outstanding, sp.handles.size);
    fz.eq(`${w}.inUse`, s.inUse, sp.handles.size);
    fz.eq(`${w}.bytes`, s.bytes, sp.handles.size * round8(sp.objSize));
    fz.eq(`${w}.objectSize`, s.objectSize, round8(sp.objSize));
    fz.eq(`${w}.maxOutstanding`, s.maxOutstanding, sp.max);
    fz.eq(`${w}.tagValue`, s.tagValue, sp.tagValue);
    fz.eq(`${w}.waiters`, s.waiters, 0);
    if (!fz.mayFail) {
      fz.eq(`${w}.allocs`, s.allocs, c.allocs);
      fz.eq(`${w}.frees`, s.frees, c.frees);
      fz.eq(`${w}.peak`, s.peak, c.peak);
      fz.eq(`${w}.failures`, s.failures, c.failures);
    }
    if (!(s.free >= 0)) throw fz.fail(`${w}.free is ${s.free}`);
    // forEachLive: exactly the model's objects, each with its handle.
    const seen = new Map();
    sp.pool.forEachLive((ptr, h) => seen.set(h, ptr));
    fz.eq(`${sp.name}.forEachLive count (${when})`, seen.size, sp.handles.size);
    for (const [h, o] of sp.handles) fz.eq(`${sp.name}.forEachLive(${o.name})`, seen.get(h), o.addr);
  },

  check(fz, r) {
    const o = fz.randomLive(r, (x) => x.kind === 'slabObj');
    if (o) slabArea.verify(fz, o, 'sample');
  },

  deep(fz, report) {
    for (const sp of fz.all('slabPool')) {
      const row = report.get(sp.addr);
      if (!row) throw fz.fail(`memoryReport has no pool ${sp.name}`);
      fz.eq(`memoryReport live of ${sp.name}`, row.live, sp.handles.size);
    }
  },

  teardown(fz) {
    for (const sp of fz.all('slabPool')) {
      const objs = [...sp.handles.values()];
      if (objs.length) {
        for (const o of objs) dropObj(fz, sp, o);
        const a = new Uint32Array(objs.map((o) => o.handle));
        fz.ok(`${sp.name}.freeMany(all ${objs.length})`, () => sp.pool.freeMany(a));
        fz.counters.free(sp.key, objs.length);
      }
      fz.ok(`${sp.name}.destroy()`, () => sp.pool.destroy());
      fz.retire(sp.key);
      if (sp.gen) fz.counters.memFree(sp.tagValue, 'HandleTable', -1);
      fz.remove(sp);
    }
  },
};
