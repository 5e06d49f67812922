/**
 * Typed records (rt.defineRecord), leases (pool.lease) and tryAlloc: the first part of the
 * idiomatic-pool issue.
 */
import { describe, it, expect } from 'vitest';
import { createRuntimeSync } from '../build/ts/runtime.js';
import { NdisBugCheck, Lease } from '../build/ts/index.js';

const rt = createRuntimeSync();

describe('defineRecord: C-like layout', () => {
  it('declaration order, natural alignment, size rounded to the largest alignment', () => {
    const P = rt.defineRecord({ x: 'f32', y: 'f32', id: 'u32', flags: 'u8', name: ['u8', 16] });
    expect([P.fields.x.offset, P.fields.y.offset, P.fields.id.offset, P.fields.flags.offset, P.fields.name.offset]).toEqual([0, 4, 8, 12, 13]);
    expect(P.align).toBe(4);
    expect(P.size).toBe(32); // 13 + 16 = 29, rounded up to 4
    const Q = rt.defineRecord({ a: 'u8', b: 'f64', c: 'u16', d: ['i16', 3], e: 'i8' });
    expect([Q.fields.a.offset, Q.fields.b.offset, Q.fields.c.offset, Q.fields.d.offset, Q.fields.e.offset]).toEqual([0, 8, 16, 18, 24]);
    expect(Q.align).toBe(8);
    expect(Q.size).toBe(32);
    expect(rt.defineRecord({ only: 'u8' }).size).toBe(1);
  });

  it('accessors read and write each field by pointer, with the field type semantics', () => {
    const P = rt.defineRecord({ x: 'f32', d: 'f64', u: 'u16', s: 'i16', b: 'i8', w: 'u32', i: 'i32', arr: ['u8', 4] });
    const pool = rt.createSlabPool({ record: P })!;
    const p = pool.alloc();
    P.fields.x.set(p, 1.5);
    P.fields.d.set(p, Math.PI);
    P.fields.u.set(p, 70000); // wraps as a u16
    P.fields.s.set(p, -2);
    P.fields.b.set(p, 200); // wraps as an i8
    P.fields.w.set(p, -1); // 0xFFFFFFFF as a u32
    P.fields.i.set(p, 0x80000000);
    for (let k = 0; k < 4; k++) P.fields.arr.set(p, 10 + k, k);
    expect(P.fields.x.get(p)).toBe(1.5);
    expect(P.fields.d.get(p)).toBe(Math.PI);
    expect(P.fields.u.get(p)).toBe(70000 & 0xffff);
    expect(P.fields.s.get(p)).toBe(-2);
    expect(P.fields.b.get(p)).toBe(200 - 256);
    expect(P.fields.w.get(p)).toBe(0xffffffff);
    expect(P.fields.i.get(p)).toBe(-0x80000000);
    expect([0, 1, 2, 3].map((k) => P.fields.arr.get(p, k))).toEqual([10, 11, 12, 13]);
    // The bytes are where the layout says (little-endian, as Wasm).
    const bytes = rt.bytes(p, P.size);
    expect(new DataView(bytes.buffer, bytes.byteOffset).getFloat32(P.fields.x.offset, true)).toBe(1.5);
    expect(bytes[P.fields.arr.offset + 2]).toBe(12);
    expect(P.read(p)).toEqual({ x: 1.5, d: Math.PI, u: 70000 & 0xffff, s: -2, b: -56, w: 0xffffffff, i: -0x80000000, arr: [10, 11, 12, 13] });
    P.write(p, { x: -3, arr: [1, 2] });
    expect(P.read(p)).toMatchObject({ x: -3, arr: [1, 2, 12, 13] });
    pool.free(p);
  });

  it('records of different objects do not overlap, and accessors stay correct across memory.grow', () => {
    for (const sharedMemory of [true, false]) {
      const r = createRuntimeSync({ sharedMemory });
      const P = r.defineRecord({ id: 'u32', v: 'f64' });
      const pool = r.createSlabPool({ record: P })!;
      const ptrs: number[] = [];
      for (let i = 0; i < 64; i++) {
        const p = pool.alloc();
        P.fields.id.set(p, i);
        P.fields.v.set(p, i / 3);
        ptrs.push(p);
      }
      const before = r.memory.buffer.byteLength;
      const big = r.createSlabPool({ objectSize: 4096 })!;
      for (let i = 0; i < 8000; i++) expect(big.alloc()).toBeGreaterThan(0); // ~32 MiB: memory grows
      expect(r.memory.buffer.byteLength).toBeGreaterThan(before);
      ptrs.forEach((p, i) => {
        expect(P.fields.id.get(p)).toBe(i);
        expect(P.fields.v.get(p)).toBe(i / 3);
      });
    }
  });

  it('bad specs and bad pointers are PARAM bug checks', () => {
    for (const spec of [{}, null, { a: 'u128' }, { a: ['u8', 0] }, { a: ['u8', 1.5] }, { a: 42 }]) {
      expect(() => rt.defineRecord(spec as never)).toThrow(NdisBugCheck);
    }
    const P = rt.defineRecord({ v: 'f64', a: ['u8', 2] });
    const pool = rt.createSlabPool({ record: P })!;
    const p = pool.alloc();
    const bad = [0, -1, 1.5, NaN, '8' as unknown as number, p + 4 /* misaligned for the f64 */];
    for (const q of bad) {
      const e = (() => { try { P.fields.v.get(q); } catch (x) { return x; } })();
      expect(e).toBeInstanceOf(NdisBugCheck);
      expect((e as NdisBugCheck).rule).toBe('PARAM');
    }
    expect(() => P.fields.a.get(p, 2)).toThrow(NdisBugCheck);
    expect(() => P.fields.v.set(p, 'x' as unknown as number)).toThrow(NdisBugCheck);
    expect(() => P.fields.v.get(0xfffffff8)).toThrow(/past the end of memory/);
    expect(() => P.write(p, { nope: 1 } as never)).toThrow(NdisBugCheck);
    expect(() => P.write(p, { a: [1, 2, 3] })).toThrow(NdisBugCheck);
    expect(() => rt.createSlabPool({ record: P, objectSize: 4 })).toThrow(NdisBugCheck);
    expect(() => rt.createSlabPool({ record: {} as never })).toThrow(NdisBugCheck);
  });

  it('createSlabPool({ record }) sizes its slots from the record', () => {
    const P = rt.defineRecord({ a: 'u32', b: ['u8', 9] }); // 13 -> 16
    const pool = rt.createSlabPool({ record: P })!;
    expect(pool.objectSize).toBe(P.size);
    const a = pool.alloc();
    const b = pool.alloc();
    expect(Math.abs(b - a)).toBeGreaterThanOrEqual(16);
    expect(pool.bytes(a).length).toBe(P.size);
  });
});

describe('leases and tryAlloc', () => {
  it('a lease holds a slot until disposed; dispose frees it exactly once', () => {
    const pool = rt.createSlabPool({ objectSize: 24, maxOutstanding: 2 })!;
    const l = pool.lease()!;
    expect(l).toBeInstanceOf(Lease);
    expect(l.active).toBe(true);
    expect(l.ptr).toBeGreaterThan(0);
    expect(pool.stats().outstanding).toBe(1);
    l[Symbol.dispose]();
    expect(l.active).toBe(false);
    expect(pool.stats().outstanding).toBe(0);
    expect(() => l[Symbol.dispose]()).toThrow(NdisBugCheck);
    expect(() => l.ptr).toThrow(/already disposed/);
    expect(() => l.release()).toThrow(NdisBugCheck);
    expect(pool.stats()).toMatchObject({ outstanding: 0, frees: 1 });
  });

  it('works with try/finally and `using`-style scopes, and returns null at the limit', () => {
    const pool = rt.createSlabPool({ objectSize: 8, maxOutstanding: 1 })!;
    const outer = pool.lease();
    try {
      expect(outer).not.toBeNull();
      expect(pool.lease()).toBeNull(); // the limit: like alloc() returning 0
      expect(pool.tryAlloc()).toBe(0);
    } finally {
      outer![Symbol.dispose]();
    }
    expect(pool.stats().outstanding).toBe(0);
    const p = pool.tryAlloc();
    expect(p).toBeGreaterThan(0);
    pool.free(p);
    expect(pool.stats().failures).toBe(2);
  });

  it('freeing the leased address directly makes the later dispose a double-free bug check, and changes nothing', () => {
    const pool = rt.createSlabPool({ objectSize: 8 })!;
    const l = pool.lease()!;
    pool.free(l.ptr);
    const before = pool.stats();
    expect(() => l[Symbol.dispose]()).toThrow(NdisBugCheck);
    expect(pool.stats()).toEqual(before);
  });
});
