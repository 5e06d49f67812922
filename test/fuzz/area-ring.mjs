/**
 * Area "ring": descriptor rings (runtime.createRing; enqueueBurst / enqueueBulk / dequeueBurst /
 * dequeueBulk with u32Batch and plain arrays; count, freeCount, highWater, stats, destroy).
 *
 * Model object: ring {ring (the JS DescriptorRing), cap, q (descriptors in order, 5 words each),
 * enq, deq, high}. A ring is one 'Ring' allocation of 63 + 192 + 20 * capacity bytes.
 */
import { TAG } from './core.mjs';

const W = 5;

export const ringArea = {
  name: 'ring',

  init(fz) {
    fz.deadRings = [];
    fz.ringBatch = fz.rt.u32Batch(64 * W);
  },

  snapshot(fz) {
    return fz.all('ring').map((g) => JSON.stringify(g.ring.stats())).join('\n');
  },

  ops: [
    {
      name: 'ring.create', w: 1,
      run(fz, r) {
        const rt = fz.rt;
        if (fz.all('ring').length >= 4 && r.chance(0.8)) return;
        const capacity = r.weighted([[6, () => 1 << r.int(7)], [1, () => 1 << r.range(7, 12)], [fz.small ? 0.3 : 0, () => 1 << 20]])();
        const name = r.pick(['tx', 'rx', 'q']);
        if (r.chance(0.15)) {
          const o = r.pick([
            { capacity: r.pick([0, 3, 6, 1 << 21, NaN, -4, 2.5, '8', undefined]), name },
            { capacity: 4, name: r.pick([5, null, {}]) },
          ]);
          fz.bad(fz.call('createRing', [o]), ['PARAM'], () => rt.createRing(/** @type {any} */ (o)), [], 'bad option');
          return;
        }
        const ring = fz.ok(fz.call('createRing', [{ capacity, name }]), () => rt.createRing({ capacity, name }));
        if (!ring) return fz.allocFailed('createRing');
        const len = 63 + 192 + capacity * 20;
        fz.counters.memAlloc(TAG.RING, 'Ring', len);
        fz.eq('ring.capacity', ring.capacity, capacity);
        fz.eq('ring.name', ring.name, name);
        const g = fz.add({ kind: 'ring', addr: ring.handle, size: len, len, ring, cap: capacity, q: [], enq: 0, deq: 0, high: 0, ringName: name });
        ringArea.verifyRing(fz, g, 'fresh');
      },
    },
    {
      name: 'ring.move', w: 5,
      run(fz, r) {
        const g = fz.any(r, 'ring');
        if (!g) return;
        const enqueue = r.chance(0.55);
        const bulk = r.chance(0.3);
        const fn = `${enqueue ? 'enqueue' : 'dequeue'}${bulk ? 'Bulk' : 'Burst'}`;
        const k = r.weighted([[5, () => r.int(Math.min(g.cap, 16) + 1)], [1, () => r.int(64) + 1], [0.3, () => r.int(g.cap * 2 + 1)]])();
        // A u32Batch array is used in place; any other Uint32Array is copied through scratch.
        const useBatch = r.chance(0.5);
        let a;
        let passN;
        let n;
        if (useBatch) {
          a = fz.ringBatch;
          passN = r.chance(0.8);
          n = passN ? Math.min(k, 64) : 64;
        } else {
          passN = r.chance(0.6);
          a = new Uint32Array(k * W + (passN ? r.int(3) : 0));
          n = passN ? k : Math.floor(a.length / W);
        }
        if (r.chance(0.06)) {
          const [x, n] = r.pick([
            [[1, 2, 3], undefined], [new Int32Array(5), undefined], [a, a.length / W + 1 | 0], [a, -1], [a, 1.5], [a, 'x'], [a, (1 << 20) + 1],
          ]);
          if (n !== undefined && typeof n === 'number' && Number.isInteger(n) && n >= 0 && n * W <= (/** @type {any} */ (x)).length && n <= 1 << 20) return;
          fz.bad(`${g.name}.${fn}(${fz.fmt(x)}, ${fz.fmt(n)})`, ['PARAM'], () => g.ring[fn](/** @type {any} */ (x), /** @type {any} */ (n)), [], 'bad argument');
          return;
        }
        // Known bug (report): a plain array larger than the scratch area, with the memory budget
        // spent, makes the burst throw RangeError (README: exhaustion never throws). With
        // knownBugs off the model lets it pass as "nothing moved".
        if (!useBatch && n * W > 256 && fz.mayFail && fz.cfg.knownBugs === false) {
          try {
            g.ring.count();
            const probe = fz.rt.scratchU32(n * W);
            if (!probe) {
              fz.log(`${g.name}.${fn}(u32[${a.length}]) skipped: no memory for the scratch copy`);
              return;
            }
          } catch {
            return;
          }
        }
        if (enqueue) {
          for (let i = 0; i < n * W; i++) a[i] = r.u32();
          const src = Array.from(a.subarray(0, n * W));
          const got = fz.ok(`${g.name}.${fn}(u32[${a.length}], ${passN ? n : ''})`, () => g.ring[fn](a, passN ? n : undefined));
          const room = g.cap - g.q.length;
          const want = n <= room ? n : bulk ? 0 : room;
          fz.eq(`${g.name}.${fn} count`, got, want);
          for (let i = 0; i < want; i++) g.q.push(src.slice(i * W, i * W + W));
          g.enq += want;
          g.high = Math.max(g.high, g.q.length);
        } else {
          a.fill(0xeeeeeeee);
          const got = fz.ok(`${g.name}.${fn}(u32[${a.length}], ${passN ? n : ''})`, () => g.ring[fn](a, passN ? n : undefined));
          const want = n <= g.q.length ? n : bulk ? 0 : g.q.length;
          fz.eq(`${g.name}.${fn} count`, got, want);
          for (let i = 0; i < want; i++) {
            const d = g.q.shift();
            for (let j = 0; j < W; j++) fz.eq(`${g.name}.${fn} descriptor ${i} word ${j}`, a[i * W + j], d[j]);
          }
          for (let i = want * W; i < a.length; i++) if (a[i] !== 0xeeeeeeee) throw fz.fail(`${g.name}.${fn} wrote word ${i} beyond the ${want} descriptors it returned`);
          g.deq += want;
        }
        ringArea.verifyRing(fz, g, `after ${fn}`);
      },
    },
    {
      name: 'ring.destroy', w: 1,
      run(fz, r) {
        if (fz.deadRings.length && r.chance(0.4)) {
          const ring = r.pick(fz.deadRings);
          const fn = r.pick(['enqueueBurst', 'dequeueBulk', 'count', 'freeCount', 'highWater', 'stats', 'destroy']);
          fz.bad(`(destroyed ring).${fn}()`, ['ALT-POOL'], () => ring[fn](new Uint32Array(5), 1), [], 'destroyed ring');
          return;
        }
        const g = fz.any(r, 'ring');
        if (!g || r.chance(0.5)) return;
        ringArea.destroy(fz, g);
      },
    },
  ],

  destroy(fz, g) {
    fz.ok(`${g.name}.destroy()`, () => g.ring.destroy());
    fz.counters.memFree(TAG.RING, 'Ring', g.len);
    fz.deadRings.push(g.ring);
    if (fz.deadRings.length > 8) fz.deadRings.shift();
    fz.remove(g);
  },

  verify(fz, o, when) {
    if (o.kind !== 'ring') return false;
    ringArea.verifyRing(fz, o, when);
    return true;
  },

  verifyRing(fz, g, when) {
    const s = g.ring.stats();
    const w = `${g.name}.stats() (${when})`;
    fz.eq(`${w}.count`, s.count, g.q.length);
    fz.eq(`${w}.freeCount`, s.freeCount, g.cap - g.q.length);
    fz.eq(`${w}.capacity`, s.capacity, g.cap);
    fz.eq(`${w}.highWater`, s.highWater, g.high);
    fz.eq(`${w}.enqueued`, s.enqueued, g.enq);
    fz.eq(`${w}.dequeued`, s.dequeued, g.deq);
    fz.eq(`${w}.name`, s.name, g.ringName);
    fz.eq(`${g.name}.count()`, g.ring.count(), g.q.length);
    fz.eq(`${g.name}.freeCount()`, g.ring.freeCount(), g.cap - g.q.length);
    fz.eq(`${g.name}.highWater()`, g.ring.highWater(), g.high);
  },

  teardown(fz) {
    for (const g of fz.all('ring')) ringArea.destroy(fz, g);
  },
};
