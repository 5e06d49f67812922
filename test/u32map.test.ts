/**
 * U32Map / U32Set (src/ndis/u32map.ts), the driver model's per-NBL tables: against a JS Map in
 * random operation sequences (fast-check), with keys that collide in the table (multiples of a
 * large power of two, as NBL addresses in one slab are) and across growth and wrap-around.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { U32Map, U32Set } from '../build/ts/ndis/u32map.js';

type Op = { t: 'set' | 'delete' | 'get'; k: number; v: number } | { t: 'clear' };

const keyArb = fc.oneof(
  fc.integer({ min: 1, max: 40 }), // few keys: many deletes of present keys
  fc.integer({ min: 1, max: 0xffffffff }),
  fc.integer({ min: 1, max: 64 }).map((i) => (i * 0x10000) >>> 0), // same low bits
  fc.integer({ min: 1, max: 64 }).map((i) => (0x100000 + i * 0x78) >>> 0), // NBL-like spacing
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('set' as const), k: keyArb, v: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('delete' as const), k: keyArb, v: fc.constant(0) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('get' as const), k: keyArb, v: fc.constant(0) }) },
  { weight: 1, arbitrary: fc.constant<Op>({ t: 'clear' }) },
);

describe('U32Map', () => {
  it('behaves as a Map of its keys in any sequence of set / delete / get / clear (property)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400 }), fc.constantFrom(1, 16, 64), (ops, cap) => {
        const m = new U32Map<number>(cap);
        const ref = new Map<number, number>();
        for (const op of ops) {
          if (op.t === 'set') {
            m.set(op.k, op.v);
            ref.set(op.k, op.v);
          } else if (op.t === 'delete') {
            expect(m.delete(op.k)).toBe(ref.delete(op.k));
          } else if (op.t === 'get') {
            expect(m.get(op.k)).toBe(ref.get(op.k));
            expect(m.has(op.k)).toBe(ref.has(op.k));
          } else {
            m.clear();
            ref.clear();
          }
          expect(m.size).toBe(ref.size);
        }
        // every key still reachable, none extra
        for (const [k, v] of ref) expect(m.get(k)).toBe(v);
        expect([...m.keys()].sort((a, b) => a - b)).toEqual([...ref.keys()].sort((a, b) => a - b));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses key 0 and keys that are not u32, and finds nothing under them', () => {
    const m = new U32Map<string>();
    for (const k of [0, -1, 1.5, 2 ** 32, NaN]) expect(() => m.set(k, 'x')).toThrow(RangeError);
    expect(m.size).toBe(0);
    expect(m.get(0)).toBeUndefined();
    expect(m.has(0)).toBe(false);
    expect(m.delete(0)).toBe(false);
  });

  it('churn of the same keys does not grow the table (deletes leave no tombstones)', () => {
    const m = new U32Map<number>(128);
    const keys = Array.from({ length: 64 }, (_, i) => 0x200000 + i * 0x640);
    let deleted = 0;
    for (let round = 0; round < 10_000; round++) {
      for (const k of keys) m.set(k, round);
      for (const k of keys) if (m.delete(k)) deleted++;
    }
    expect(deleted).toBe(640_000);
    expect(m.size).toBe(0);
    for (const k of keys) expect(m.has(k)).toBe(false);
  });
});

describe('U32Set', () => {
  it('add / has / delete / size', () => {
    const s = new U32Set();
    for (let i = 1; i <= 1000; i++) s.add(i * 8);
    s.add(8);
    expect(s.size).toBe(1000);
    for (let i = 1; i <= 1000; i += 2) expect(s.delete(i * 8)).toBe(true);
    expect(s.size).toBe(500);
    for (let i = 1; i <= 1000; i++) expect(s.has(i * 8)).toBe(i % 2 === 0);
  });
});
