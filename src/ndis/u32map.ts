/**
 * A map from nonzero u32 keys (NBL addresses) to values, for the driver model's per-NBL
 * bookkeeping (which NBLs are away, at a miniport, held by a binding).
 *
 * The data path sets and deletes the same keys burst after burst. A JS Map leaves a deleted
 * entry behind until it rebuilds its table, so that churn allocates a new table every few
 * bursts; in a process with a large heap the garbage collector then dominates the vNIC loopback.
 * This table uses open addressing with linear probing and backward-shift deletion: deleting
 * leaves no tombstone, and the table only reallocates when it grows. Key 0 marks an empty slot.
 */
export class U32Map<V> {
  #keys: Uint32Array;
  #vals: (V | undefined)[];
  #mask: number;
  #shift: number;
  #size = 0;

  /** @param capacity initial slots (rounded up to a power of two, at least 16) */
  constructor(capacity = 64) {
    let cap = 16;
    while (cap < capacity) cap *= 2;
    this.#keys = new Uint32Array(cap);
    this.#vals = new Array<V | undefined>(cap).fill(undefined);
    this.#mask = cap - 1;
    this.#shift = 32 - Math.log2(cap);
  }

  /** Number of keys. */
  get size(): number {
    return this.#size;
  }

  /** The slot a key's probe starts at (Fibonacci hashing: NBL addresses differ in high bits). */
  #home(k: number): number {
    return Math.imul(k, 0x9e3779b1) >>> this.#shift;
  }

  /** The slot holding `k`, or the empty slot where it would go. */
  #slot(k: number): number {
    const keys = this.#keys;
    let i = this.#home(k);
    for (;;) {
      const x = keys[i]!;
      if (x === k || x === 0) return i;
      i = (i + 1) & this.#mask;
    }
  }

  has(k: number): boolean {
    return k !== 0 && this.#keys[this.#slot(k)] === k;
  }

  get(k: number): V | undefined {
    if (k === 0) return undefined;
    const i = this.#slot(k);
    return this.#keys[i] === k ? this.#vals[i] : undefined;
  }

  /** @throws RangeError for a key that is not a nonzero u32 */
  set(k: number, v: V): this {
    if (k >>> 0 !== k || k === 0) throw new RangeError(`U32Map: key ${k} is not a nonzero u32`);
    const i = this.#slot(k);
    if (this.#keys[i] !== k) {
      this.#keys[i] = k;
      this.#size++;
    }
    this.#vals[i] = v;
    if (this.#size * 2 > this.#keys.length) this.#grow();
    return this;
  }

  delete(k: number): boolean {
    if (k === 0) return false;
    const keys = this.#keys;
    const vals = this.#vals;
    const mask = this.#mask;
    let i = this.#slot(k);
    if (keys[i] !== k) return false;
    // Backward shift: move each later key of the probe run into the hole when its home slot
    // does not lie cyclically in (hole, its slot]; stop at an empty slot.
    for (let j = (i + 1) & mask; keys[j] !== 0; j = (j + 1) & mask) {
      const h = this.#home(keys[j]!);
      const stays = i <= j ? h > i && h <= j : h > i || h <= j;
      if (!stays) {
        keys[i] = keys[j]!;
        vals[i] = vals[j];
        i = j;
      }
    }
    keys[i] = 0;
    vals[i] = undefined;
    this.#size--;
    return true;
  }

  clear(): void {
    this.#keys.fill(0);
    this.#vals.fill(undefined);
    this.#size = 0;
  }

  /** The keys, in table order. */
  *keys(): IterableIterator<number> {
    const keys = this.#keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) yield keys[i]!;
  }

  #grow(): void {
    const oldKeys = this.#keys;
    const oldVals = this.#vals;
    const cap = oldKeys.length * 2;
    this.#keys = new Uint32Array(cap);
    this.#vals = new Array<V | undefined>(cap).fill(undefined);
    this.#mask = cap - 1;
    this.#shift--;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k !== 0) {
        const j = this.#slot(k);
        this.#keys[j] = k;
        this.#vals[j] = oldVals[i];
      }
    }
  }
}

/** A set of nonzero u32 keys on the same table. */
export class U32Set extends U32Map<true> {
  add(k: number): this {
    return this.set(k, true);
  }
}
