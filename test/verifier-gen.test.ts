/**
 * Verifier ALT-GEN (NDIS-SPEC §7): a miniport or filter driver that deregisters while generic
 * objects allocated with its DriverObject are live is reported (LEAK-GEN) before anything is
 * released; a normal runtime does not check it.
 */
import { describe, it, expect } from 'vitest';
import { createRuntimeSync } from '../build/ts/runtime.js';
import {
  NdisBugCheck, RULE_P1, NDIS_STATUS_SUCCESS, NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS, NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
} from '../build/ts/index.js';

const noop = () => 0;
const chars = {
  Header: { Type: NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS, Revision: NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2, Size: 0x7c },
  MajorNdisVersion: 6, MinorNdisVersion: 20,
  InitializeHandlerEx: noop, HaltHandlerEx: noop, PauseHandler: noop, RestartHandler: noop,
  SendNetBufferListsHandler: noop, ReturnNetBufferListsHandler: noop, CancelSendHandler: noop,
};
const DRIVER_OBJECT = 0x1234;

function register(verifier: boolean) {
  const rt = createRuntimeSync({ verifier, maxMemory: 8 << 20 });
  const out = { value: 0 };
  expect(rt.NdisMRegisterMiniportDriver(DRIVER_OBJECT, 'mp', 0, chars as never, out as never)).toBe(NDIS_STATUS_SUCCESS);
  return { rt, handle: out.value };
}

describe('verifier: generic objects left at driver deregistration (ALT-GEN)', () => {
  it('is LEAK-GEN, lists the objects with their sites, and changes nothing', () => {
    const { rt, handle } = register(true);
    const g1 = rt.NdisAllocateGenericObject(DRIVER_OBJECT, 0x6e656747, 16);
    const g2 = rt.NdisAllocateGenericObject(DRIVER_OBJECT, 0x6e656747, 0);
    const other = rt.NdisAllocateGenericObject(0x9999, 0x6e656747, 0); // another driver's
    let err: unknown;
    try {
      rt.NdisMDeregisterMiniportDriver(handle as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NdisBugCheck);
    const b = err as NdisBugCheck & { leaks: number[] };
    expect(b.rule).toBe('LEAK-GEN');
    expect(b.code).toBe(0xc4);
    expect(b.parameters[0]).toBe(RULE_P1['LEAK-GEN']);
    expect(b.parameters[2]).toBe(2);
    expect([...b.leaks].sort()).toEqual([g1, g2].sort());
    expect(b.message).toMatch(/NdisAllocateGenericObject at .*verifier-gen\.test\.ts/);
    // Nothing was released: the driver is still registered; freeing the objects lets it go.
    rt.NdisFreeGenericObject(g1);
    rt.NdisFreeGenericObject(g2);
    rt.NdisMDeregisterMiniportDriver(handle as never);
    expect(() => rt.NdisMDeregisterMiniportDriver(handle as never)).toThrow(NdisBugCheck);
    rt.NdisFreeGenericObject(other);
  });

  it('is not checked in a normal runtime', () => {
    const { rt, handle } = register(false);
    const g = rt.NdisAllocateGenericObject(DRIVER_OBJECT, 0x6e656747, 0);
    rt.NdisMDeregisterMiniportDriver(handle as never);
    rt.NdisFreeGenericObject(g);
  });
});

describe('verifier: NDIS5-IN-6 (an NDIS 6 miniport calling the NDIS 5 API)', () => {
  function miniportThatUsesNdis5(rt: ReturnType<typeof createRuntimeSync>) {
    const seen: string[] = [];
    const c = {
      ...chars,
      InitializeHandlerEx(h: number) {
        const status = { value: 0 };
        const pool = { value: 0 };
        rt.NdisAllocateBufferPool(status as never, pool as never, 4); // NDIS 5 from a miniport
        seen.push('after');
        if (pool.value) rt.NdisFreeBufferPool(pool.value as never);
        rt.NdisMSetMiniportAttributes(h as never, { Header: { Type: 0x9e, Revision: 1, Size: 0x18 }, MiniportAdapterContext: 1 });
        return NDIS_STATUS_SUCCESS;
      },
    };
    const out = { value: 0 };
    expect(rt.NdisMRegisterMiniportDriver(0, 'mp5', 0, c as never, out as never)).toBe(NDIS_STATUS_SUCCESS);
    return { handle: out.value, seen };
  }

  it('is bug check 0x7C with P1 0x15 in verifier mode, and the call is not made', () => {
    const rt = createRuntimeSync({ verifier: true, maxMemory: 8 << 20 });
    const { handle, seen } = miniportThatUsesNdis5(rt);
    let err: unknown;
    try {
      rt.createAdapter(handle, { name: 'eth0' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NdisBugCheck);
    expect((err as NdisBugCheck).rule).toBe('NDIS5-IN-6');
    expect((err as NdisBugCheck).code).toBe(0x7c);
    expect((err as NdisBugCheck).parameters[0]).toBe(0x15);
    expect(seen).toEqual([]);
    // The same call outside any miniport handler is fine.
    const status = { value: -1 };
    const pool = { value: 0 };
    rt.NdisAllocateBufferPool(status as never, pool as never, 4);
    expect(status.value).toBe(NDIS_STATUS_SUCCESS);
    rt.NdisFreeBufferPool(pool.value as never);
  });

  it('is not checked in a normal runtime', () => {
    const rt = createRuntimeSync({ maxMemory: 8 << 20 });
    const { handle, seen } = miniportThatUsesNdis5(rt);
    const a = rt.createAdapter(handle, { name: 'eth0' });
    expect(a).not.toBeNull();
    expect(seen).toEqual(['after']);
  });
});
