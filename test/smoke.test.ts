import { describe, it, expect } from 'vitest';
import { createRuntimeSync } from '../build/ts/runtime.js';

describe('smoke', () => {
  it('allocates from a SlabPool', () => {
    const rt = createRuntimeSync();
    const pool = rt.createSlabPool({ objectSize: 64 })!;
    const p = pool.alloc();
    expect(p).toBeGreaterThanOrEqual(65536);
    pool.free(p);
    expect(pool.stats().outstanding).toBe(0);
  });
});
