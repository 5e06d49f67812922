/**
 * A small deterministic PRNG (splitmix32) for the fuzz harness. Each step gets its own Rng
 * seeded by the step's 32-bit seed, so a step means the same thing wherever it sits in a
 * sequence (fast-check can delete steps while shrinking).
 */

export class Rng {
  /** @param {number} seed */
  constructor(seed) {
    this.s = seed >>> 0;
  }

  /** Next u32. */
  u32() {
    let z = (this.s = (this.s + 0x9e3779b9) >>> 0);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** Integer in [0, n). */
  int(n) {
    return n <= 1 ? 0 : Math.floor((this.u32() / 4294967296) * n);
  }

  /** Integer in [a, b]. */
  range(a, b) {
    return a + this.int(b - a + 1);
  }

  /** True with probability p. */
  chance(p) {
    return this.u32() / 4294967296 < p;
  }

  /**
   * @template T
   * @param {readonly T[]} a
   * @returns {T}
   */
  pick(a) {
    return a[this.int(a.length)];
  }

  /**
   * Weighted choice: `table` is [[weight, value], …].
   * @template T
   * @param {readonly (readonly [number, T])[]} table
   * @returns {T}
   */
  weighted(table) {
    let total = 0;
    for (const [w] of table) total += w;
    let x = this.u32() / 4294967296 * total;
    for (const [w, v] of table) {
      if (x < w) return v;
      x -= w;
    }
    return table[table.length - 1][1];
  }

  /**
   * Up to `k` distinct elements of `a`, in random order.
   * @template T
   * @param {readonly T[]} a
   * @param {number} k
   * @returns {T[]}
   */
  sample(a, k) {
    const c = a.slice();
    const out = [];
    while (out.length < k && c.length) out.push(c.splice(this.int(c.length), 1)[0]);
    return out;
  }

  /** A small size, skewed toward small values: [0, max]. */
  small(max) {
    const r = this.u32() / 4294967296;
    return Math.floor(r * r * (max + 1));
  }
}
