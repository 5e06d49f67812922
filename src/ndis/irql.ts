/**
 * The IRQL model (DESIGN D7, NDIS-SPEC §10 decision 19). Wasm has no interrupt levels, so the
 * current IRQL is explicit state of each runtime: drivers raise and lower it, spin locks raise it
 * to DISPATCH_LEVEL, and the driver model runs callbacks at DISPATCH_LEVEL when their flags say
 * so (a DPC, an indication with NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL). In verifier mode every NDIS
 * call checks its IRQL rule (IRQL-NB, IRQL-MISC, IRQL-PROT, IRQL-DPR) and LOCK-5; the state and
 * the misuse checks of the functions below are there in every mode.
 */
import { RuntimeCore, isU32 } from '../core.js';
import { badParam, ruleViolation } from '../errors.js';
import type { Out } from './constants.js';
import { isOut } from './handles.js';

export const PASSIVE_LEVEL = 0;
export const APC_LEVEL = 1;
export const DISPATCH_LEVEL = 2;
/** HIGH_LEVEL on x86 (the emulated platform). */
export const HIGH_LEVEL = 31;

/** NDIS_SPIN_LOCK: a plain object the driver owns; NdisAllocateSpinLock initialises it. */
export interface NDIS_SPIN_LOCK {
  /** Set by the model: the IRQL to go back to on release (C field OldIrql). */
  OldIrql?: number;
}

interface LockState {
  held: boolean;
  /** The IRQL NdisAcquireSpinLock raised from (NdisReleaseSpinLock lowers back to it). */
  old: number;
}

/** @internal Per runtime: the current IRQL and the spin locks held. */
export class IrqlState {
  irql = PASSIVE_LEVEL;
  held = 0;
  /** Locks held, in acquisition order (they are released in the reverse order). */
  readonly stack: object[] = [];
  readonly locks = new WeakMap<object, LockState>();
  constructor(readonly epoch: number) {}
}

const states = new WeakMap<RuntimeCore, IrqlState>();

/** @internal The IRQL state of `rt` (fresh after reset). */
export function irqlOf(rt: RuntimeCore): IrqlState {
  let s = states.get(rt);
  if (!s || s.epoch !== rt.epoch) states.set(rt, (s = new IrqlState(rt.epoch)));
  return s;
}

/**
 * @internal Runs `fn` at DISPATCH_LEVEL when `dispatch` is true (a callback whose flags carry
 * DISPATCH_LEVEL, a DPC), restoring the IRQL afterwards; otherwise at the current IRQL.
 */
export function atDispatch<T>(rt: RuntimeCore, dispatch: boolean, fn: () => T): T {
  const s = irqlOf(rt);
  if (!dispatch || s.irql >= DISPATCH_LEVEL) return fn();
  const old = s.irql;
  s.irql = DISPATCH_LEVEL;
  try {
    return fn();
  } finally {
    s.irql = old;
  }
}

function level(fn: string, arg: string, v: unknown): number {
  if (!isU32(v) || v > HIGH_LEVEL) throw badParam(fn, arg, v, `a KIRQL in [0, ${HIGH_LEVEL}]`);
  return v;
}

function lockState(rt: RuntimeCore, fn: string, lock: unknown): LockState {
  if (typeof lock !== 'object' || lock === null) throw badParam(fn, 'SpinLock', lock, 'an NDIS_SPIN_LOCK object');
  const st = irqlOf(rt).locks.get(lock);
  if (!st) throw ruleViolation(fn, 'SpinLock', 'LOCK', 'is not a spin lock initialised with NdisAllocateSpinLock (or it was freed)');
  return st;
}

/** LOCK: nested spin locks are released in the reverse order of acquisition. */
function outOfOrder(fn: string, s: IrqlState, lock: object): void {
  if (s.stack[s.stack.length - 1] !== lock) {
    throw ruleViolation(fn, 'SpinLock', 'LOCK', `is released out of order: ${s.stack.length - 1 - s.stack.indexOf(lock)} lock(s) acquired after it are still held (release those first; releasing this one would restore an IRQL below them)`);
  }
}

export const irqlApi = {
  /** The current IRQL. */
  KeGetCurrentIrql(this: RuntimeCore): number {
    return irqlOf(this).irql;
  },

  /**
   * Raises the IRQL to NewIrql and stores the previous one in OldIrql.
   * @throws NdisBugCheck IRQL when NewIrql is below the current IRQL.
   */
  KeRaiseIrql(this: RuntimeCore, NewIrql: number, OldIrql: Out<number>): void {
    const fn = 'KeRaiseIrql';
    const n = level(fn, 'NewIrql', NewIrql);
    if (!isOut(OldIrql)) throw badParam(fn, 'OldIrql', OldIrql, 'an out box { value }');
    const s = irqlOf(this);
    if (n < s.irql) throw ruleViolation(fn, 'NewIrql', 'IRQL', `${n} is below the current IRQL ${s.irql} (KeRaiseIrql only raises)`, n, s.irql);
    OldIrql.value = s.irql;
    s.irql = n;
  },

  /**
   * Lowers the IRQL to NewIrql (the value KeRaiseIrql returned).
   * @throws NdisBugCheck IRQL when NewIrql is above the current IRQL; LOCK when it would drop
   *   below DISPATCH_LEVEL while a spin lock is held.
   */
  KeLowerIrql(this: RuntimeCore, NewIrql: number): void {
    const fn = 'KeLowerIrql';
    const n = level(fn, 'NewIrql', NewIrql);
    const s = irqlOf(this);
    if (n > s.irql) throw ruleViolation(fn, 'NewIrql', 'IRQL', `${n} is above the current IRQL ${s.irql} (KeLowerIrql only lowers)`, n, s.irql);
    if (n < DISPATCH_LEVEL && s.held !== 0) throw ruleViolation(fn, 'NewIrql', 'LOCK', `would drop below DISPATCH_LEVEL with ${s.held} spin lock(s) held`, n, s.held);
    s.irql = n;
  },

  /** Initialises a spin lock (any IRQL). */
  NdisAllocateSpinLock(this: RuntimeCore, SpinLock: NDIS_SPIN_LOCK): void {
    if (typeof SpinLock !== 'object' || SpinLock === null) throw badParam('NdisAllocateSpinLock', 'SpinLock', SpinLock, 'an NDIS_SPIN_LOCK object');
    irqlOf(this).locks.set(SpinLock, { held: false, old: PASSIVE_LEVEL });
    SpinLock.OldIrql = PASSIVE_LEVEL;
  },

  /** Releases a spin lock's resources. @throws NdisBugCheck LOCK while it is held. */
  NdisFreeSpinLock(this: RuntimeCore, SpinLock: NDIS_SPIN_LOCK): void {
    const fn = 'NdisFreeSpinLock';
    const st = lockState(this, fn, SpinLock);
    if (st.held) throw ruleViolation(fn, 'SpinLock', 'LOCK', 'is held: release it before freeing it');
    irqlOf(this).locks.delete(SpinLock);
  },

  /**
   * Acquires a spin lock, raising the IRQL to DISPATCH_LEVEL (the old IRQL is kept in the lock).
   * @throws NdisBugCheck LOCK when the lock is already held (one thread: a certain deadlock);
   *   IRQL when called above DISPATCH_LEVEL.
   */
  NdisAcquireSpinLock(this: RuntimeCore, SpinLock: NDIS_SPIN_LOCK): void {
    const fn = 'NdisAcquireSpinLock';
    const st = lockState(this, fn, SpinLock);
    const s = irqlOf(this);
    if (st.held) throw ruleViolation(fn, 'SpinLock', 'LOCK', 'is already held: acquiring it again deadlocks');
    if (s.irql > DISPATCH_LEVEL) throw ruleViolation(fn, undefined, 'IRQL', `called at IRQL ${s.irql}, above DISPATCH_LEVEL`, s.irql);
    st.held = true;
    st.old = s.irql;
    SpinLock.OldIrql = s.irql;
    s.irql = DISPATCH_LEVEL;
    s.held++;
    s.stack.push(SpinLock);
  },

  /** Releases a spin lock acquired with NdisAcquireSpinLock, back to the IRQL it raised from. */
  NdisReleaseSpinLock(this: RuntimeCore, SpinLock: NDIS_SPIN_LOCK): void {
    const fn = 'NdisReleaseSpinLock';
    const st = lockState(this, fn, SpinLock);
    const s = irqlOf(this);
    if (!st.held) throw ruleViolation(fn, 'SpinLock', 'LOCK', 'is not held');
    outOfOrder(fn, s, SpinLock);
    st.held = false;
    s.held--;
    s.stack.pop();
    s.irql = st.old;
  },

  /** Acquires a spin lock at DISPATCH_LEVEL (the caller is already there: IRQL-DPR otherwise). */
  NdisDprAcquireSpinLock(this: RuntimeCore, SpinLock: NDIS_SPIN_LOCK): void {
    const fn = 'NdisDprAcquireSpinLock';
    const st = lockState(this, fn, SpinLock);
    const s = irqlOf(this);
    if (s.irql !== DISPATCH_LEVEL) throw ruleViolation(fn, undefined, 'IRQL-DPR', `called at IRQL ${s.irql}; the Dpr variant needs DISPATCH_LEVEL`, s.irql);
    if (st.held) throw ruleViolation(fn, 'SpinLock', 'LOCK', 'is already held: acquiring it again deadlocks');
    st.held = true;
    st.old = DISPATCH_LEVEL;
    SpinLock.OldIrql = DISPATCH_LEVEL;
    s.held++;
    s.stack.push(SpinLock);
  },

  /** Releases a spin lock acquired with NdisDprAcquireSpinLock (stays at DISPATCH_LEVEL). */
  NdisDprReleaseSpinLock(this: RuntimeCore, SpinLock: NDIS_SPIN_LOCK): void {
    const fn = 'NdisDprReleaseSpinLock';
    const st = lockState(this, fn, SpinLock);
    const s = irqlOf(this);
    if (!st.held) throw ruleViolation(fn, 'SpinLock', 'LOCK', 'is not held');
    if (s.irql !== DISPATCH_LEVEL) throw ruleViolation(fn, undefined, 'IRQL-DPR', `called at IRQL ${s.irql}; the Dpr variant needs DISPATCH_LEVEL`, s.irql);
    outOfOrder(fn, s, SpinLock);
    st.held = false;
    s.held--;
    s.stack.pop();
  },
};

export type IrqlApi = typeof irqlApi;
