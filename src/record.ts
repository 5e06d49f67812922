/**
 * Typed records for the idiomatic pool: a C-like struct layout over linear memory, with field
 * accessors that read and write by pointer and allocate nothing per call.
 *
 * Layout rules (as a C compiler lays out a struct on the emulated 32-bit platform): fields in
 * declaration order, each aligned to its own size (arrays to their element size), no
 * reordering; the record's size is rounded up to its largest alignment. Pool slots are 8-byte
 * aligned, so every field of a record in a SlabPool is naturally aligned.
 */
import { RuntimeCore, isU32 } from './core.js';
import { badParam, ruleViolation, hexAddr } from './errors.js';

/** Scalar field types. */
export type FieldType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';
/** A field: a scalar, or `[type, length]` for a fixed-length array. */
export type FieldSpec = FieldType | readonly [FieldType, number];

const SIZES: Record<FieldType, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, f64: 8 };
const SHIFT: Record<FieldType, number> = { u8: 0, i8: 0, u16: 1, i16: 1, u32: 2, i32: 2, f32: 2, f64: 3 };

/** Reads and writes one field of a record by the record's address. */
export interface FieldAccessor {
  /** Byte offset in the record. */
  readonly offset: number;
  readonly type: FieldType;
  /** Elements (1 for a scalar). */
  readonly length: number;
  /** The field (element `index` of an array field) of the record at `ptr`. */
  get(ptr: number, index?: number): number;
  /** Sets the field (element `index` of an array field) of the record at `ptr`. */
  set(ptr: number, value: number, index?: number): void;
}

/** A record type: its layout and one accessor per field. */
export interface RecordType<F extends Record<string, FieldSpec> = Record<string, FieldSpec>> {
  /** Bytes per record (rounded up to `align`). */
  readonly size: number;
  /** The largest field alignment. */
  readonly align: number;
  /** Field name → accessor, in declaration order. */
  readonly fields: { readonly [K in keyof F]: FieldAccessor };
  /** Copies a record to a plain object (arrays as number arrays). For debugging. */
  read(ptr: number): { [K in keyof F]: F[K] extends FieldType ? number : number[] };
  /** Writes the fields present in `values` to the record at `ptr`. */
  write(ptr: number, values: Partial<{ [K in keyof F]: F[K] extends FieldType ? number : ArrayLike<number> }>): void;
}

const owners = new WeakMap<object, RuntimeCore>();

/** @internal The runtime a record type was defined on (undefined: not a record type). */
export function recordRuntime(record: object): RuntimeCore | undefined {
  return owners.get(record);
}

/** @internal Builds a record type on `rt`. */
export function defineRecord<F extends Record<string, FieldSpec>>(rt: RuntimeCore, spec: F): RecordType<F> {
  const fn = 'defineRecord';
  if (typeof spec !== 'object' || spec === null || Object.keys(spec).length === 0) {
    throw badParam(fn, 'fields', spec, 'an object of at least one field: { name: type | [type, length] }');
  }
  let offset = 0;
  let align = 1;
  const fields: Record<string, FieldAccessor> = {};
  for (const [name, f] of Object.entries(spec)) {
    const [type, length] = typeof f === 'string' ? [f, 1] : Array.isArray(f) ? [f[0], f[1]] : [undefined, 0];
    if (typeof type !== 'string' || !(type in SIZES)) throw badParam(fn, `fields.${name}`, f, `a type (${Object.keys(SIZES).join(', ')}) or [type, length]`);
    if (!isU32(length) || length < 1 || length > 1 << 20) throw badParam(fn, `fields.${name}`, length, 'an array length in [1, 2^20]');
    const t = type as FieldType;
    const size = SIZES[t];
    offset = (offset + size - 1) & ~(size - 1);
    fields[name] = new Field(rt, name, offset, t, length);
    offset += size * length;
    align = Math.max(align, size);
  }
  const size = (offset + align - 1) & ~(align - 1);
  const names = Object.keys(fields);
  const type: RecordType<F> = {
    size,
    align,
    fields: fields as RecordType<F>['fields'],
    read(ptr: number) {
      const out: Record<string, number | number[]> = {};
      for (const n of names) {
        const a = fields[n]!;
        out[n] = a.length === 1 ? a.get(ptr) : Array.from({ length: a.length }, (_, i) => a.get(ptr, i));
      }
      return out as ReturnType<RecordType<F>['read']>;
    },
    write(ptr, values) {
      if (typeof values !== 'object' || values === null) throw badParam('record.write', 'values', values, 'an object');
      for (const [n, v] of Object.entries(values)) {
        const a = fields[n];
        if (!a) throw badParam('record.write', `values.${n}`, v, `a field of the record (${names.join(', ')})`);
        if (a.length === 1) a.set(ptr, v as number);
        else {
          const arr = v as ArrayLike<number>;
          if (arr === null || typeof arr !== 'object' || typeof arr.length !== 'number' || arr.length > a.length) {
            throw badParam('record.write', `values.${n}`, arr, `an array of at most ${a.length} numbers`);
          }
          for (let i = 0; i < arr.length; i++) a.set(ptr, arr[i]!, i);
        }
      }
    },
  };
  owners.set(type, rt);
  return type;
}

type View = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;
/** Per type code, the runtime's view. */
const VIEW_OF: ((rt: RuntimeCore) => View)[] = [
  (rt) => rt.u8, (rt) => rt.i8, (rt) => rt.u16, (rt) => rt.i16, (rt) => rt.u32, (rt) => rt.i32, (rt) => rt.f32, (rt) => rt.f64,
];

/** Type codes for the accessor's switch (each case's view load stays monomorphic). */
const CODE: Record<FieldType, number> = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, f64: 7 };

/**
 * One field's accessor. A class, not closures: every accessor has the same hidden class, so the
 * loads in get/set stay monomorphic however many record types and fields a program uses (closures
 * made at one site share their feedback, and calls through them stop being inlined).
 */
class Field implements FieldAccessor {
  private readonly _rt: RuntimeCore;
  private readonly _name: string;
  private readonly _code: number;
  private readonly _shift: number;
  private readonly _bytes: number;
  /** Bytes from the record's start to the end of this field. */
  private readonly _end: number;
  /** The runtime's view of this field's type, as of the last slow path. */
  private _v: View;

  constructor(rt: RuntimeCore, name: string, readonly offset: number, readonly type: FieldType, readonly length: number) {
    this._rt = rt;
    this._name = name;
    this._code = CODE[type];
    this._shift = SHIFT[type];
    this._bytes = SIZES[type];
    this._end = offset + SIZES[type] * length;
    this._v = VIEW_OF[this._code]!(rt);
  }

  /**
   * Element index of the field, or -1 when ptr/index are bad (range, alignment). Whether the
   * element lies inside memory is left to the caller: it compares the index with the length of
   * the view it reads, and refreshes the views only when that fails (memory may have grown since
   * they were made). So the fast path reads no growth counter and no buffer size.
   */
  private _at(ptr: number, index: number): number {
    const bytes = this._bytes;
    if (ptr >>> 0 !== ptr || ptr === 0 || index >>> 0 !== index || index >= this.length ||
        ((ptr + this.offset) & (bytes - 1)) !== 0) return -1;
    return (ptr + this.offset + index * bytes) >>> this._shift;
  }

  /**
   * The slow path of get/set: a bad argument throws; an element beyond the cached view means
   * memory grew since the view was taken (shared memory: the view is too short; unshared: it was
   * detached), so take the runtime's current view and try again.
   */
  private _slow(fn: string, ptr: number, index: number): number {
    const i = this._at(ptr, index);
    if (i < 0) this._fail(fn, ptr, index);
    const rt = this._rt;
    rt.sync();
    if (VIEW_OF[this._code]!(rt).length <= i) rt.refresh();
    this._v = VIEW_OF[this._code]!(rt);
    if (i >= this._v.length) this._fail(fn, ptr, index);
    return i;
  }

  /** The slow path: says what is wrong (the fast path only tests). */
  private _fail(fn: string, ptr: number, index: number): never {
    const at = `${this._name}.${fn}`;
    if (ptr >>> 0 !== ptr || ptr === 0) throw badParam(at, 'ptr', ptr, 'a record address (non-NULL u32)');
    if (index >>> 0 !== index || index >= this.length) throw badParam(at, 'index', index, `an index in [0, ${this.length - 1}]`);
    if (((ptr + this.offset) & (this._bytes - 1)) !== 0) {
      throw ruleViolation(at, 'ptr', 'PARAM', `${hexAddr(ptr)} puts this ${this.type} field at a misaligned address (records are ${this._bytes}-byte aligned for it)`, ptr);
    }
    throw ruleViolation(at, 'ptr', 'PARAM', `${hexAddr(ptr)} + ${this._end} runs past the end of memory (${this._rt.memBytes} bytes)`, ptr);
  }

  // get/set stay small so that V8 inlines them into the caller: the bounds test against the
  // field's own cached view stands in for "did memory grow?".
  get(ptr: number, index = 0): number {
    let i = this._at(ptr, index);
    if (i < 0 || i >= this._v.length) i = this._slow('get', ptr, index);
    return this._v[i]!;
  }

  set(ptr: number, value: number, index = 0): void {
    if (typeof value !== 'number') throw badParam(`${this._name}.set`, 'value', value, 'a number');
    let i = this._at(ptr, index);
    if (i < 0 || i >= this._v.length) i = this._slow('set', ptr, index);
    this._v[i] = value;
  }
}
