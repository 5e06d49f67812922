/**
 * dist/ (DESIGN D12), bundled from tsc's output in build/ts (npm run build runs asc, tsc, then this):
 *
 *   dist/index.mjs     ESM for Node and bundlers (cli-table3 stays a dependency)
 *   dist/index.cjs     CommonJS; creates the default runtime synchronously (no top-level await)
 *   dist/browser.mjs   ESM with no bare imports (cli-table3 bundled): the `browser` condition,
 *                      and what a plain <script type="module"> page imports
 *   dist/index.d.ts    all types in one file; dist/index.d.cts the same for `require`
 *   dist/cli.mjs, dist/demo.mjs   the `ndis-pool` command and the showcase it runs
 *   dist/ndis.wasm, dist/ndis-shared.wasm   the raw modules (`ndis-pool/ndis.wasm`)
 *
 * Every JS build has both Wasm modules inlined as base64 (no file, server or bundler set-up).
 */
import { readFileSync, rmSync, chmodSync } from 'node:fs';
import { dts } from 'rollup-plugin-dts';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';

const WASM = { plain: 'build/release.wasm', shared: 'build/release-shared.wasm' };

/** Replaces exactly one occurrence of `pattern` in the module `file`, or fails the build. */
function replaceOnce(name, file, pattern, replacement) {
  return {
    name,
    transform(code, id) {
      if (!id.replaceAll('\\', '/').endsWith(file)) return null;
      const hits = code.match(new RegExp(pattern.source, 'g'))?.length ?? 0;
      if (hits !== 1) this.error(`${name}: expected one match of ${pattern} in ${file}, found ${hits}`);
      return { code: code.replace(pattern, replacement(code)), map: null };
    },
  };
}

/** build/ts/core.js: `INLINE_WASM = null` becomes the base64 of both modules. */
const inlineWasm = () =>
  replaceOnce('inline-wasm', 'build/ts/core.js', /\/\* @ndis-pool:inline-wasm \*\/ null/, () =>
    JSON.stringify({ plain: readFileSync(WASM.plain).toString('base64'), shared: readFileSync(WASM.shared).toString('base64') }));

/**
 * build/ts/index.js for CommonJS, which has no top-level await: the default runtime is created
 * with createRuntimeSync from the inlined bytes instead of `await createRuntime()`.
 */
const syncDefaultRuntime = () =>
  replaceOnce('sync-default-runtime', 'build/ts/index.js', /=\s*await\s+createRuntime\(\)/, () => '= __createRuntimeSync()');
const syncImport = {
  name: 'sync-default-runtime-import',
  transform(code, id) {
    if (!id.replaceAll('\\', '/').endsWith('build/ts/index.js')) return null;
    return { code: `import { createRuntimeSync as __createRuntimeSync } from './runtime.js';\n${code}`, map: null };
  },
};

/** The raw modules as files of the package. */
const emitWasm = {
  name: 'emit-wasm',
  buildStart() {
    rmSync('dist', { recursive: true, force: true });
  },
  generateBundle() {
    this.emitFile({ type: 'asset', fileName: 'ndis.wasm', source: readFileSync(WASM.plain) });
    this.emitFile({ type: 'asset', fileName: 'ndis-shared.wasm', source: readFileSync(WASM.shared) });
  },
  writeBundle() {
    chmodSync('dist/cli.mjs', 0o755);
  },
};

/**
 * CommonJS has no import.meta: rollup would shim import.meta.url with a dynamic require that
 * browser bundlers warn about. Its one use (locating build/release.wasm next to build/ts) is
 * unreachable in dist/, where the Wasm is inlined.
 */
const noImportMetaUrl = {
  name: 'no-import-meta-url',
  resolveImportMeta(property) {
    return property === 'url' ? 'undefined /* unused: dist/ has the Wasm inlined */' : null;
  },
};

const external = (id) => id.startsWith('node:') || id === 'cli-table3' || id === 'commander';
const onwarn = (w, warn) => {
  // Top-level `this` in TS helpers and circular imports between the API modules are expected.
  if (w.code === 'CIRCULAR_DEPENDENCY') return;
  warn(w);
};

export default [
  {
    input: { index: 'build/ts/index.js', cli: 'build/ts/cli.js', demo: 'build/ts/demo.js' },
    external,
    onwarn,
    plugins: [inlineWasm(), emitWasm],
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].mjs', chunkFileNames: '[name]-[hash].mjs' },
  },
  {
    input: 'build/ts/index.js',
    external,
    onwarn,
    plugins: [inlineWasm(), syncImport, syncDefaultRuntime(), noImportMetaUrl],
    output: { file: 'dist/index.cjs', format: 'cjs', exports: 'named' },
  },
  {
    input: 'build/ts/index.js',
    onwarn,
    plugins: [
      inlineWasm(),
      nodeResolve({ browser: true, preferBuiltins: false }),
      // cli-table3 requires @colors/colors only to colour cells (in a try/catch); poolmon tables are plain.
      commonjs({ ignore: ['@colors/colors/safe'] }),
    ],
    output: { file: 'dist/browser.mjs', format: 'es' },
  },
  {
    input: 'build/ts/index.d.ts',
    plugins: [dts()],
    output: [{ file: 'dist/index.d.ts', format: 'es' }, { file: 'dist/index.d.cts', format: 'es' }],
  },
];
