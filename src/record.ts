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
const VIEW: Record<FieldType, 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64'> = {
  u8: 'u8', i8: 'i8', u16: 'u16', i16: 'i16', u32: 'u32', i32: 'i32', f32: 'f32', f64: 'f64',
};

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
    fields[name] = makeAccessor(rt, name, offset, t, length);
    offset += size * length;
    align = Math.max(align, size);
  }
  const size = (offset + align - 1) & ~(align - 1);
  const names = Object.keys(fields);
  return {
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
}

function makeAccessor(rt: RuntimeCore, name: string, offset: number, type: FieldType, length: number): FieldAccessor {
  const shift = SHIFT[type];
  const bytes = SIZES[type];
  const view = VIEW[type];
  const end = offset + bytes * length;
  const check = (fn: string, ptr: number, index: number): number => {
    if (ptr >>> 0 !== ptr || ptr === 0) throw badParam(`${name}.${fn}`, 'ptr', ptr, 'a record address (non-NULL u32)');
    if (index >>> 0 !== index || index >= length) throw badParam(`${name}.${fn}`, 'index', index, `an index in [0, ${length - 1}]`);
    if (((ptr + offset) & (bytes - 1)) !== 0) {
      throw ruleViolation(`${name}.${fn}`, 'ptr', 'PARAM', `${hexAddr(ptr)} puts this ${type} field at a misaligned address (records are ${bytes}-byte aligned for it)`, ptr);
    }
    rt.sync();
    if (ptr + end > rt.buf.byteLength) {
      throw ruleViolation(`${name}.${fn}`, 'ptr', 'PARAM', `${hexAddr(ptr)} + ${end} runs past the end of memory`, ptr);
    }
    return (ptr + offset + index * bytes) >>> shift;
  };
  return {
    offset,
    type,
    length,
    // check() may refresh the views (memory grew): index first, then read the view.
    get(ptr: number, index = 0): number {
      const i = check('get', ptr, index);
      return rt[view][i]!;
    },
    set(ptr: number, value: number, index = 0): void {
      if (typeof value !== 'number') throw badParam(`${name}.set`, 'value', value, 'a number');
      const i = check('set', ptr, index);
      rt[view][i] = value;
    },
  };
}
