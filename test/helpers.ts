/**
 * Helpers shared by the vitest suites (test/*.test.ts): loose typing for raw addresses, fixtures
 * (object headers, protocol characteristics, NET_BUFFER pools), bug-check expectations and small
 * memory readers. Not a test file itself (vitest only collects *.test.ts).
 */
import { expect } from 'vitest';
import type { NdisRuntime } from '../build/ts/runtime.js';
import { NdisBugCheck } from '../build/ts/errors.js';
import { RING_DESCRIPTOR } from '../build/ts/ring.js';
import {
  NDIS_OBJECT_TYPE_DEFAULT,
  NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS,
  NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1,
  NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1,
  NET_BUFFER_POOL_PARAMETERS_REVISION_1,
  NET_BUFFER_POOL_PARAMETERS_REVISION_2,
  NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1,
  NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_2,
} from '../build/ts/ndis/constants.js';

// -- loose typing ------------------------------------------------------------------------------------

/** Anything: for arguments the tests pass in the wrong type on purpose. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;

/** The NDIS methods with plain-number pointers: these tests pass raw and forged addresses on purpose. */
type Num<T> = T extends number ? number : T;
type LooseFn<F> = F extends (...a: infer A) => infer R ? (...a: { [I in keyof A]: Num<A[I]> }) => Num<R> : F;
export type LooseRt = { [K in keyof NdisRuntime]: LooseFn<NdisRuntime[K]> };
export const loose = (r: NdisRuntime) => r as unknown as LooseRt;

// -- constants and fixtures --------------------------------------------------------------------------

/** A Wasm page; no object lives below it. */
export const PAGE = 65536;

export const noop = () => undefined;

/** NDIS_OBJECT_HEADER of NET_BUFFER_POOL_PARAMETERS, revision 1 (0x80, 1, 12) and revision 2 (0x80, 2, 16). */
export const HDR1 = { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1 };
export const HDR2 = { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_POOL_PARAMETERS_REVISION_2, Size: NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_2 };

/**
 * A minimal valid revision-1 NDIS_PROTOCOL_DRIVER_CHARACTERISTICS (header 0x95 / 1 / 64, NDIS 6.0,
 * every required handler) named `Name`; `over` replaces or adds fields.
 */
export function protocolChars(Name: string, over: Record<string, unknown> = {}): Loose {
  return {
    Header: {
      Type: NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS,
      Revision: NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1,
      Size: NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1,
    },
    MajorNdisVersion: 6,
    MinorNdisVersion: 0,
    Name,
    BindAdapterHandlerEx: noop,
    UnbindAdapterHandlerEx: noop,
    OpenAdapterCompleteHandlerEx: noop,
    CloseAdapterCompleteHandlerEx: noop,
    NetPnPEventHandler: noop,
    OidRequestCompleteHandler: noop,
    StatusHandlerEx: noop,
    ReceiveNetBufferListsHandler: noop,
    SendNetBufferListsCompleteHandler: noop,
    ...over,
  };
}

/** A NET_BUFFER pool (revision-1 header, no NdisHandle) of `dataSize` and `tag`; must succeed. */
export function nbPool(rt: NdisRuntime, dataSize: number, tag = 0x41424344): number {
  const h = loose(rt).NdisAllocateNetBufferPool(0, { Header: HDR1, PoolTag: tag, DataSize: dataSize });
  expect(h).not.toBe(0);
  return h;
}

/** The slot an object of `objectSize` bytes takes: a multiple of 8, at least 8. */
export function slot(objectSize: number): number {
  return Math.max(8, Math.ceil(objectSize / 8) * 8);
}

// -- bug checks ----------------------------------------------------------------------------------------

/** Runs `fn`, which must throw an NdisBugCheck; returns it. */
export function bugCheck(fn: () => unknown): NdisBugCheck {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an NdisBugCheck').toBeInstanceOf(NdisBugCheck);
  return err as NdisBugCheck;
}

/** The bug check a call must throw. */
export interface Expect {
  fn: string;
  arg?: string;
  code: number;
  rule: string;
  parameters?: number[];
  message?: RegExp;
}

/**
 * Runs `f`, which must throw the bug check `x`; returns it. The message must name the function
 * and contain "fn: arg ". With `fullMessage`, the message must also start with "fn: arg " and
 * carry the "[rule; bug check 0xCODE" tag.
 */
export function expectBug(f: () => unknown, x: Expect, { fullMessage = false }: { fullMessage?: boolean } = {}): NdisBugCheck {
  const b = bugCheck(f);
  expect(b.function).toBe(x.fn);
  expect(b.code).toBe(x.code);
  expect(b.rule).toBe(x.rule);
  // The message names the function and the argument.
  expect(b.message.startsWith(`${x.fn}: `)).toBe(true);
  if (x.arg !== undefined) {
    expect(b.argument).toBe(x.arg);
    if (fullMessage) expect(b.message.startsWith(`${x.fn}: ${x.arg} `)).toBe(true);
    else expect(b.message).toContain(`${x.fn}: ${x.arg} `);
  }
  if (fullMessage) expect(b.message).toContain(`[${x.rule}; bug check 0x${x.code.toString(16).toUpperCase()}`);
  if (x.parameters) expect([...b.parameters]).toEqual(x.parameters);
  if (x.message) expect(b.message).toMatch(x.message);
  return b;
}

// -- reading the runtime ---------------------------------------------------------------------------

/** The poolmon row of (tag, type); `tag` is the value or the string poolmon shows. */
export function row(rt: NdisRuntime, tag: number | string, type: string) {
  return rt.poolmon().find((r) => (typeof tag === 'string' ? r.tag === tag : r.tagValue === tag) && r.type === type);
}

export const u32At = (rt: NdisRuntime, addr: number) => new DataView(rt.memory.buffer).getUint32(addr, true);
export const u16At = (rt: NdisRuntime, addr: number) => new DataView(rt.memory.buffer).getUint16(addr, true);

// -- ring descriptors (DescriptorRing and SharedRing tests) --------------------------------------------

/** The five words of descriptor `id`: distinct per id, with high bits set in several words. */
export function descWords(id: number): number[] {
  return [
    (0x80000000 + id * 64) >>> 0, // address
    (id * 3 + 1) >>> 0, // length
    (0xf0000000 | id) >>> 0, // flags
    (Math.imul(id, 0x9e3779b1) ^ 0xaaaaaaaa) >>> 0, // status
    (0xffffffff - id) >>> 0, // cookie
  ];
}

/** Fills `a` (from word 0) with descriptors ids[0], ids[1], ... */
export function fillDescs(a: Uint32Array, ids: number[]): Uint32Array {
  const W = RING_DESCRIPTOR.WORDS;
  ids.forEach((id, i) => a.set(descWords(id), i * W));
  return a;
}

/** A plain Uint32Array of descriptors ids[0], ids[1], ... (+ `extraWords` spare words). */
export function descs(ids: number[], extraWords = 0): Uint32Array {
  return fillDescs(new Uint32Array(ids.length * RING_DESCRIPTOR.WORDS + extraWords), ids);
}
