/**
 * Misuse is a bug check (DESIGN D6): every public function validates its arguments and throws
 * an {@link NdisBugCheck} naming the function, the argument and what was wrong, with the
 * Windows bug-check code and parameters and the NDIS-SPEC §7 rule ID. Exhaustion never throws.
 */

/** DRIVER_VERIFIER_DETECTED_VIOLATION. */
export const BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION = 0xc4;
/** BAD_POOL_CALLER. */
export const BUGCODE_BAD_POOL_CALLER = 0xc2;
/** BUGCODE_NDIS_DRIVER. */
export const BUGCODE_NDIS_DRIVER = 0x7c;

const CODE_NAMES: Record<number, string> = {
  [BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION]: 'DRIVER_VERIFIER_DETECTED_VIOLATION',
  [BUGCODE_BAD_POOL_CALLER]: 'BAD_POOL_CALLER',
  [BUGCODE_NDIS_DRIVER]: 'BUGCODE_NDIS_DRIVER',
};

/**
 * Rule IDs (NDIS-SPEC §7, plus `PARAM` for arguments outside their C type) and, for the 0xC4
 * bug checks, the Parameter 1 that ndis-pool reports for each. Windows' own DDI-compliance
 * Parameter 1 values are not reproduced: these numbers are ndis-pool's. The exception is
 * TIME-SEND, a Driver Verifier rule with a documented Parameter 1 of its own (like the 0x7C
 * rules LEAK-NBL and NDIS5-IN-6): see {@link NDIS_TIMED_DATA_SEND} and {@link NDIS_TIMED_DATA_HANG}.
 */
export const RULE_P1 = {
  PARAM: 0x00d00001,
  'POOL-1': 0x00d00011,
  'POOL-2': 0x00d00012,
  'POOL-3': 0x00d00013,
  'POOL-4': 0x00d00014,
  'POOL-5': 0x00d00015,
  'POOL-6': 0x00d00016,
  'NB-ARGS': 0x00d00020,
  'NB-CONS': 0x00d00021,
  'NBL-FREE-1': 0x00d00030,
  'NBL-FREE-2': 0x00d00031,
  'CTX-ALIGN': 0x00d00032,
  'ADV-1': 0x00d00040,
  'ADV-2': 0x00d00041,
  'GDB-1': 0x00d00042,
  'PKT-1': 0x00d00050,
  'PKT-2': 0x00d00051,
  'PKT-4': 0x00d00053,
  /** Verifier: a lower driver chained a buffer that is not from NdisAllocateBuffer to a packet. */
  'BUF-1': 0x00d00058,
  'OWN-1': 0x00d00060,
  'OWN-2': 0x00d00061,
  /** Verifier: a driver that did not create an NBL changed its NET_BUFFER chain. */
  'OWN-3': 0x00d00062,
  'DRV-1': 0x00d00070,
  'DRV-2': 0x00d00071,
  'DRV-3': 0x00d00072,
  'IRQL-NB': 0x00d00080,
  'IRQL-MISC': 0x00d00081,
  'IRQL-PROT': 0x00d00082,
  'IRQL-DPR': 0x00d00083,
  'LOCK-5': 0x00d00084,
  IRQL: 0x00d00085,
  LOCK: 0x00d00086,
  /** Verifier: a handle released while MDLs or memory blocks allocated with it are live. */
  'LEAK-MDL': 0x00d00090,
  'LEAK-MEM': 0x00d00091,
  'LEAK-GEN': 0x00d00092,
} as const;

export type RuleId =
  | keyof typeof RULE_P1
  | 'HDR-1'
  | 'ORIGIN'
  | 'ALT-NB'
  | 'ALT-MDL'
  | 'ALT-GEN'
  | 'ALT-POOL'
  | 'ALT-MEM'
  | 'ALT-NBL'
  | 'TAG'
  | 'LEAK-NBL'
  | 'NDIS5-IN-6'
  | 'TIME-SEND';

/**
 * Driver Verifier's NdisTimedDataSend rule (0xC4 Parameter 1): an NBL the miniport was given in
 * MiniportSendNetBufferLists was not completed within 30 s (TIME-SEND).
 */
export const NDIS_TIMED_DATA_SEND = 0x0009200d;
/**
 * Driver Verifier's NdisTimedDataHang rule (0xC4 Parameter 1): sends were pending on an adapter
 * and the miniport completed none of them for 22 s (TIME-SEND).
 */
export const NDIS_TIMED_DATA_HANG = 0x0009200f;

/** The error thrown for every misuse. State is exactly as before the call that threw. */
export class NdisBugCheck extends Error {
  /** Windows bug-check code: 0xC4, 0xC2 or 0x7C. */
  readonly code: number;
  /** The bug check's four parameters. */
  readonly parameters: readonly [number, number, number, number];
  /** NDIS-SPEC §7 rule ID (or PARAM). */
  readonly rule: RuleId;
  /** The NDIS (or SlabPool) function that detected the misuse. */
  readonly function: string;
  /** The argument at fault, when there is one. */
  readonly argument: string | undefined;

  constructor(
    fn: string,
    argument: string | undefined,
    rule: RuleId,
    code: number,
    parameters: readonly [number, number, number, number],
    what: string,
  ) {
    const hex = (n: number) => '0x' + (n >>> 0).toString(16).toUpperCase();
    const where = argument ? `${fn}: ${argument} ${what}` : `${fn}: ${what}`;
    super(
      `${where} [${rule}; bug check ${hex(code)} ${CODE_NAMES[code] ?? ''} (${parameters
        .map(hex)
        .join(', ')})]`,
    );
    this.name = 'NdisBugCheck';
    this.code = code;
    this.parameters = parameters;
    this.rule = rule;
    this.function = fn;
    this.argument = argument;
  }
}

/** `0x0001F000`-style address formatting for messages. */
export function hexAddr(n: number): string {
  return '0x' + (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

/** A 0xC4 bug check for a rule with an ndis-pool Parameter 1. */
export function ruleViolation(
  fn: string,
  argument: string | undefined,
  rule: keyof typeof RULE_P1,
  what: string,
  p2 = 0,
  p3 = 0,
  p4 = 0,
): NdisBugCheck {
  return new NdisBugCheck(fn, argument, rule, BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION, [RULE_P1[rule], p2, p3, p4], what);
}

/** A PARAM violation: the value is not of the argument's C type or range. */
export function badParam(fn: string, argument: string, value: unknown, expected: string): NdisBugCheck {
  const shown = typeof value === 'number' || typeof value === 'bigint' ? String(value) : typeof value;
  return ruleViolation(fn, argument, 'PARAM', `must be ${expected} (got ${shown})`, typeof value === 'number' && Number.isFinite(value) ? value >>> 0 : 0);
}
