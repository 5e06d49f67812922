#!/usr/bin/env node
/**
 * Bundle sizes of dist/ (run `npm run build` first): raw and gzip (level 9) of the ESM builds,
 * the CJS build and the Wasm modules, as a Markdown table (`--json` for JSON).
 *
 *   npm run sizes
 */
import { readFileSync, existsSync } from 'node:fs';
import { gzipSync, constants } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const files = [
  ['dist/index.mjs', 'ESM (Node, bundlers; `import`)'],
  ['dist/browser.mjs', 'ESM for browsers (`browser` condition; cli-table3 bundled)'],
  ['dist/index.cjs', 'CommonJS (`require`)'],
  ['dist/ndis.wasm', 'Wasm module (`ndis-pool/ndis.wasm`)'],
  ['dist/ndis-shared.wasm', 'Wasm module, shared memory (`ndis-pool/ndis-shared.wasm`)'],
];

if (!existsSync(join(dist, 'index.mjs'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

const gz = (b) => gzipSync(b, { level: constants.Z_BEST_COMPRESSION }).length;
const rows = files.map(([file, what]) => {
  const bytes = readFileSync(join(dist, '..', file));
  const row = { file, what, raw: bytes.length, gzip: gz(bytes) };
  if (file.endsWith('.mjs') || file.endsWith('.cjs')) {
    // The inlined modules: the two base64 strings of build/ts/core.js's INLINE_WASM.
    const text = bytes.toString('utf8');
    const m = text.match(/\{"plain":"([A-Za-z0-9+/=]+)","shared":"([A-Za-z0-9+/=]+)"\}/);
    if (m) row.inlinedWasm = m[1].length + m[2].length;
    row.withoutWasm = m ? { raw: row.raw - m[0].length, gzip: gz(Buffer.from(text.replace(m[0], 'null'))) } : undefined;
  }
  return row;
});

if (process.argv.includes('--json')) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log('| file | what | raw | gzip | JS without the inlined Wasm (raw / gzip) |');
  console.log('| --- | --- | ---: | ---: | ---: |');
  for (const r of rows) {
    const js = r.withoutWasm ? `${kb(r.withoutWasm.raw)} / ${kb(r.withoutWasm.gzip)}` : '—';
    console.log(`| \`${r.file}\` | ${r.what} | ${kb(r.raw)} | ${kb(r.gzip)} | ${js} |`);
  }
}
