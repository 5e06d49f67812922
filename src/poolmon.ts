/**
 * Per-tag statistics as text, the way Windows poolmon prints them (DESIGN D11):
 * Tag, Type, Allocs, Frees, Diff, Bytes, Per Alloc, plus Peak and Fail.
 */
import Table from 'cli-table3';
import type { PoolmonRow } from './core.js';

/** Formats poolmon rows as a text table. */
export function formatPoolmon(rows: readonly PoolmonRow[]): string {
  const t = new Table({
    head: ['Tag', 'Type', 'Allocs', 'Frees', 'Diff', 'Bytes', 'Per Alloc', 'Peak', 'Fail'],
    colAligns: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [] },
  });
  for (const r of rows) {
    t.push([
      r.tag,
      r.type,
      r.allocs,
      r.frees,
      r.outstanding,
      r.bytes,
      r.outstanding ? Math.round(r.bytes / r.outstanding) : 0,
      r.peak,
      r.failures,
    ]);
  }
  return t.toString();
}
