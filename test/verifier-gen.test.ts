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
