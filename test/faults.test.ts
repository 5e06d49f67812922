/**
 * Fault injection (runtime.injectFaults, DESIGN D5): allocators fail at random as exhaustion
 * does (NULL / NDIS_STATUS_RESOURCES, never a throw), reproducibly for a seed, and nothing leaks.
 */
import { describe, it, expect } from 'vitest';
import { createRuntimeSync } from '../build/ts/runtime.js';
import {
  NdisBugCheck, NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS, NDIS_OBJECT_TYPE_DEFAULT,
} from '../build/ts/index.js';

const NB_POOL = { Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: 1, Size: 12 }, PoolTag: 0x74736554, DataSize: 256 };

describe('runtime.injectFaults', () => {
  it('probability 1 makes every allocation fail as exhaustion, and probability 0 turns it off', () => {
    const rt = createRuntimeSync();
    const pool = rt.createSlabPool({ objectSize: 32 })!;
    const nbPool = rt.NdisAllocateNetBufferPool(0, NB_POOL);
    expect(nbPool).not.toBe(0);
    const before = rt.poolmon();
    rt.injectFaults({ probability: 1, seed: 7 });
    expect(pool.alloc()).toBe(0);
    expect(pool.allocMany(new Uint32Array(8))).toBe(0);
    expect(rt.NdisAllocateNetBufferMdlAndData(nbPool as never)).toBe(0);
    const st = { value: 0 }, ph = { value: 0 };
    rt.NdisAllocatePacketPool(st, ph, 4, 16);
    expect(st.value).toBe(NDIS_STATUS_RESOURCES);
    expect(ph.value).toBe(0);
    expect(rt.createRing({ capacity: 8 })).toBeNull();
    expect(rt.faultsInjected()).toBeGreaterThanOrEqual(4);
    // Nothing was allocated: outstanding counts are unchanged, only failures grew.
    const after = rt.poolmon();
    for (const row of after) {
      const old = before.find((r) => r.tag === row.tag && r.type === row.type);
      expect(row.outstanding).toBe(old?.outstanding ?? 0);
    }
    expect(rt.poolStatsAt(pool.handle).failures).toBe(1 + 1); // alloc + the first allocMany roll
    rt.injectFaults({ probability: 0 });
    const p = pool.alloc();
    expect(p).toBeGreaterThan(0);
    pool.free(p);
    rt.NdisAllocatePacketPool(st, ph, 4, 16);
    expect(st.value).toBe(NDIS_STATUS_SUCCESS);
  });

  it('the same seed gives the same failures; about `probability` of the allocations fail', () => {
    const run = (seed: number) => {
      const rt = createRuntimeSync();
      const pool = rt.createSlabPool({ objectSize: 16 })!;
      rt.injectFaults({ probability: 0.25, seed });
      const pattern: number[] = [];
      for (let i = 0; i < 4000; i++) {
        const p = pool.alloc();
        pattern.push(p === 0 ? 0 : 1);
        if (p) pool.free(p);
      }
      return { pattern, injected: rt.faultsInjected(), failures: pool.stats().failures };
    };
    const a = run(12345);
    const b = run(12345);
    const c = run(999);
    expect(b.pattern).toEqual(a.pattern);
    expect(c.pattern).not.toEqual(a.pattern);
    const failed = a.pattern.filter((x) => x === 0).length;
    expect(failed).toBe(a.injected);
    expect(failed).toBe(a.failures);
    expect(failed / 4000).toBeGreaterThan(0.2);
    expect(failed / 4000).toBeLessThan(0.3);
  });

  it('NBL allocation with a context block rolls back cleanly when the NBL itself fails', () => {
    const rt = createRuntimeSync();
    const pool = rt.NdisAllocateNetBufferListPool(0, {
      Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: 1, Size: 16 },
      ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: 0x4c424e46, DataSize: 64,
    });
    rt.injectFaults({ probability: 0.5, seed: 3 });
    const live: number[] = [];
    for (let i = 0; i < 400; i++) {
      const nbl = rt.NdisAllocateNetBufferList(pool as never, 16, 8); // needs a context block too
      if (nbl) live.push(nbl);
    }
    rt.injectFaults({ probability: 0 });
    expect(live.length).toBeGreaterThan(0);
    for (const nbl of live) rt.NdisFreeNetBufferList(nbl as never);
    // Every context block of a failed allocation was given back: no 'Memory' row has live blocks.
    for (const row of rt.poolmon()) expect(row.outstanding, `${row.tag} ${row.type}`).toBe(0);
    rt.NdisFreeNetBufferListPool(pool as never);
  });

  it('bad options are PARAM bug checks', () => {
    const rt = createRuntimeSync();
    for (const o of [null, { probability: -0.1 }, { probability: 1.5 }, { probability: NaN }, { probability: '0.5' }, { probability: 0.5, seed: -1 }]) {
      expect(() => rt.injectFaults(o as never)).toThrow(NdisBugCheck);
    }
  });
});
