/**
 * Plain-JS baselines of the benchmark suite (bench/index.js) that need more than a few lines.
 */

/**
 * The plain-JS Int32Array free-list pool (the `*.js` baseline) with the checks `SlabPool.free`
 * makes, so that the comparison is the same work: "the same JS list with equal checks".
 *
 *   free(off):  a u32 number, inside the pool's range, on a slot boundary, and a live slot (a state
 *               byte per slot: a double free throws, nothing changes then);
 *   freeMany:   all or nothing, like SlabPool.freeMany: every entry is checked first (duplicates
 *               in the list included, through a "pending" state) and only then freed;
 *   alloc:      pop + mark the slot live (0 bytes of the object touched, like SlabPool.alloc).
 *
 * Slot sizes are powers of two, so index and alignment are a shift and a mask (the cheapest
 * checks a JS author could write; a general size would need a division).
 */
export class JsCheckedPool {
  /**
   * @param {number} objectSize  bytes per object, a power of two
   * @param {number} capacity    objects
   */
  constructor(objectSize, capacity) {
    if (objectSize <= 0 || (objectSize & (objectSize - 1)) !== 0) throw new RangeError('JsCheckedPool: objectSize must be a power of two');
    this.buffer = new ArrayBuffer(objectSize * capacity);
    this.shift = 31 - Math.clz32(objectSize);
    this.mask = objectSize - 1;
    this.limit = objectSize * capacity;
    this.stack = new Int32Array(capacity);
    /** Per slot: 0 free, 1 live, 2 (during freeMany) listed for freeing. */
    this.state = new Uint8Array(capacity);
    this.top = capacity;
    for (let i = 0; i < capacity; i++) this.stack[i] = (capacity - 1 - i) * objectSize;
  }

  /** @returns a byte offset into `buffer`, or -1 when empty. */
  alloc() {
    if (this.top === 0) return -1;
    const off = this.stack[--this.top];
    this.state[off >>> this.shift] = 1;
    return off;
  }

  /** @throws RangeError for anything but a live object of this pool (nothing changes then). */
  free(off) {
    if (typeof off !== 'number' || off >>> 0 !== off || off >= this.limit || (off & this.mask) !== 0) {
      throw new RangeError(`JsCheckedPool.free: ${off} is not an object of this pool`);
    }
    const i = off >>> this.shift;
    if (this.state[i] !== 1) throw new RangeError(`JsCheckedPool.free: ${off} is not allocated (double free)`);
    this.state[i] = 0;
    this.stack[this.top++] = off;
  }

  /** Pops up to `n` objects into `out`; returns how many. */
  allocMany(out, n) {
    const k = Math.min(n, this.top);
    const stack = this.stack;
    const state = this.state;
    const shift = this.shift;
    let top = this.top;
    for (let j = 0; j < k; j++) {
      const off = stack[--top];
      state[off >>> shift] = 1;
      out[j] = off;
    }
    this.top = top;
    return k;
  }

  /** Frees `offs[0 .. n)`, all or nothing. @throws RangeError naming the first bad entry. */
  freeMany(offs, n) {
    const state = this.state;
    const shift = this.shift;
    const mask = this.mask;
    const limit = this.limit;
    for (let j = 0; j < n; j++) {
      const off = offs[j];
      if (typeof off !== 'number' || off >>> 0 !== off || off >= limit || (off & mask) !== 0 || state[off >>> shift] !== 1) {
        for (let u = 0; u < j; u++) state[offs[u] >>> shift] = 1; // undo the marks
        throw new RangeError(`JsCheckedPool.freeMany: offs[${j}] = ${off} is not a live object of this pool, or is listed twice`);
      }
      state[off >>> shift] = 2;
    }
    const stack = this.stack;
    let top = this.top;
    for (let j = 0; j < n; j++) {
      const off = offs[j];
      state[off >>> shift] = 0;
      stack[top++] = off;
    }
    this.top = top;
  }
}
