/**
 * The npm package as users get it (DESIGN D12): `npm pack`, install the tarball into an empty
 * project, then import it (ESM), require it (CJS), run its `ndis-pool` command and type-check
 * against its bundled `.d.ts` with `moduleResolution: bundler` and `node16`.
 *
 * The install is offline: the empty project gets a lock file whose entries for the package's
 * runtime dependencies are copied from this repository's package-lock.json, so `npm ci --offline`
 * takes every tarball from the npm cache that `npm ci` filled (no registry metadata needed). Only
 * if the cache lacks one does it fall back to `--prefer-offline` (the registry, nothing else).
 * Needs dist/ (`npm run build`; `npm test` builds it first).
 */
import { describe, it, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface LockEntry { version?: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; [k: string]: unknown }

/** The lock entries, copied from this repository's lock file, of everything `deps` pulls in. */
function dependencyLock(deps: Record<string, string>): Record<string, LockEntry> {
  const repo = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const out: Record<string, LockEntry> = {};
  // Node's lookup: the requiring package's own node_modules, then each parent's, then the top.
  const find = (from: string, name: string): string | undefined => {
    for (let p = from; ; ) {
      const q = `${p ? p + '/' : ''}node_modules/${name}`;
      if (repo.packages[q]) return q;
      if (!p) return undefined;
      const i = p.lastIndexOf('/node_modules/');
      p = i < 0 ? '' : p.slice(0, i);
    }
  };
  const todo: [string, string, boolean][] = Object.keys(deps).map((d) => ['', d, false]);
  while (todo.length) {
    const [from, name, optional] = todo.shift()!;
    const path = find(from, name);
    if (!path) {
      if (optional) continue;
      throw new Error(`package-lock.json has no entry for ${name} (needed by ${from || 'ndis-pool'}); run npm install`);
    }
    if (out[path]) continue;
    const { dev: _d, devOptional: _o, peer: _p, ...entry } = repo.packages[path]!;
    out[path] = entry;
    for (const d of Object.keys(entry.dependencies ?? {})) todo.push([path, d, false]);
    for (const d of Object.keys(entry.optionalDependencies ?? {})) todo.push([path, d, true]);
  }
  return out;
}

interface Ran { code: number; stdout: string; stderr: string }

function run(cmd: string, args: string[], cwd: string): Ran {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function runOk(cmd: string, args: string[], cwd: string): string {
  const r = run(cmd, args, cwd);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `run` without blocking, so that the checks below run side by side. */
function runAsync(cmd: string, args: string[], cwd: string): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => resolve({ code: -1, stdout, stderr: stderr + String(e) }));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function runOkAsync(cmd: string, args: string[], cwd: string): Promise<string> {
  const r = await runAsync(cmd, args, cwd);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The last line of output that is a JSON object. */
function lastJson(out: string): Record<string, unknown> {
  const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no JSON in output:\n${out}`);
  return JSON.parse(line) as Record<string, unknown>;
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; license: string; dependencies: Record<string, string>; bin: Record<string, string>; engines: Record<string, string> };

// The checks after the install are independent: they run concurrently (each spawns its own processes).
describe.concurrent('the npm package: npm pack, install into an empty project', { timeout: 120_000 }, () => {
  let dir = '';
  let packed: { filename: string; files: { path: string }[] };

  beforeAll(() => {
    if (!existsSync(join(root, 'dist/index.mjs'))) throw new Error('dist/ is missing: run `npm run build` (npm test builds it)');
    dir = mkdtempSync(join(tmpdir(), 'ndis-pool-pack-'));
    packed = (JSON.parse(execFileSync(npm, ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8' })) as typeof packed[])[0]!;
    const tarball = join(dir, packed.filename);
    const integrity = 'sha512-' + createHash('sha512').update(readFileSync(tarball)).digest('base64');
    const spec = `file:${packed.filename}`;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'empty-project', private: true, dependencies: { 'ndis-pool': spec } }, null, 2));
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({
      name: 'empty-project', lockfileVersion: 3, requires: true,
      packages: {
        '': { name: 'empty-project', dependencies: { 'ndis-pool': spec } },
        'node_modules/ndis-pool': { version: pkg.version, resolved: spec, integrity, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
        ...dependencyLock(pkg.dependencies),
      },
    }, null, 2));
    const ci = ['ci', '--no-audit', '--no-fund', '--loglevel=error'];
    const offline = run(npm, [...ci, '--offline'], dir);
    if (offline.code !== 0) {
      // An npm cache without these tarballs (cleaned since `npm ci`): fetch what is missing from the registry.
      if (!/ENOTCACHED/.test(offline.stderr)) throw new Error(`npm ci --offline failed:\n${offline.stdout}\n${offline.stderr}`);
      console.warn('[pack.test.ts] the npm cache lacks a dependency tarball; installing with --prefer-offline');
      runOk(npm, [...ci, '--prefer-offline'], dir);
    }
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ships dist/ (ESM, CJS, browser ESM, types, the .wasm files, the command) and nothing else', ({ expect }) => {
    const files = packed.files.map((f) => f.path).sort();
    expect(files).toEqual([
      'LICENSE', 'README.md',
      'dist/browser.mjs', 'dist/cli.mjs', 'dist/demo.mjs', 'dist/index.cjs', 'dist/index.d.cts', 'dist/index.d.ts', 'dist/index.mjs',
      'dist/ndis-shared.wasm', 'dist/ndis.wasm',
      'package.json',
    ]);
    // Installed: the package and its runtime dependencies only.
    expect(existsSync(join(dir, 'node_modules/ndis-pool/dist/index.mjs'))).toBe(true);
    expect(existsSync(join(dir, 'node_modules/cli-table3'))).toBe(true);
    expect(existsSync(join(dir, 'node_modules/typescript'))).toBe(false);
  });

  const scenario = `
    const params = { Header: { Type: m.NDIS_OBJECT_TYPE_DEFAULT, Revision: m.NET_BUFFER_POOL_PARAMETERS_REVISION_1,
      Size: m.NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1 }, PoolTag: m.POOL_TAG('kcaP'), DataSize: 1514 };
    const pool = m.NdisAllocateNetBufferPool(0, params);
    const nbs = [];
    for (let i = 0; i < 8; i++) nbs.push(m.NdisAllocateNetBufferMdlAndData(pool));
    const length = m.NET_BUFFER_DATA_LENGTH(nbs[0]);
    const during = m.defaultRuntime.poolmon().find((r) => r.tag === 'Pack');
    for (const nb of nbs) m.NdisFreeNetBuffer(nb);
    m.NdisFreeNetBufferPool(pool);
    const after = m.defaultRuntime.poolmon().find((r) => r.tag === 'Pack');
    const result = { pool: pool > 0, distinct: new Set(nbs).size, length, outstanding: during.outstanding, allocs: after.allocs,
      frees: after.frees, left: after.outstanding, shared: m.defaultRuntime.sharedMemory };`;

  it('import { NdisAllocateNetBufferPool } from "ndis-pool" (ESM): allocates and frees a pool', async ({ expect }) => {
    writeFileSync(join(dir, 'esm.mjs'), `
      import * as m from 'ndis-pool';
      import { NdisAllocateNetBufferPool, createRuntime } from 'ndis-pool';
      ${scenario}
      // The raw module, compiled from the file the package exports.
      const rt = await createRuntime({ wasm: new URL(import.meta.resolve('ndis-pool/ndis.wasm')) });
      const p = rt.createSlabPool({ objectSize: 64, tag: 'Esm1' });
      const a = p.alloc(); p.free(a);
      console.log(JSON.stringify({ ...result, named: NdisAllocateNetBufferPool === m.NdisAllocateNetBufferPool,
        resolved: import.meta.resolve('ndis-pool'), fromWasmOption: { shared: rt.sharedMemory, allocated: a > 0, inUse: p.stats().outstanding } }));
    `);
    const r = lastJson(await runOkAsync(process.execPath, ['esm.mjs'], dir));
    expect(r).toMatchObject({ pool: true, distinct: 8, length: 1514, outstanding: 8, allocs: 8, frees: 8, left: 0, shared: true, named: true });
    expect(r.resolved).toMatch(/node_modules\/ndis-pool\/dist\/index\.mjs$/);
    expect(r.fromWasmOption).toEqual({ shared: false, allocated: true, inUse: 0 });
  });

  it('require("ndis-pool") (CJS): the same, with the default runtime created synchronously', async ({ expect }) => {
    writeFileSync(join(dir, 'cjs.cjs'), `
      const m = require('ndis-pool');
      const { readFileSync } = require('node:fs');
      ${scenario}
      const rt = m.createRuntimeSync({ wasm: readFileSync(require.resolve('ndis-pool/ndis.wasm')) });
      console.log(JSON.stringify({ ...result, resolved: require.resolve('ndis-pool'), version: require('ndis-pool/package.json').version,
        fromWasmOption: rt.sharedMemory, isRuntime: m.defaultRuntime instanceof m.NdisRuntime }));
    `);
    const r = lastJson(await runOkAsync(process.execPath, ['cjs.cjs'], dir));
    expect(r).toMatchObject({ pool: true, distinct: 8, length: 1514, outstanding: 8, allocs: 8, frees: 8, left: 0, shared: true, isRuntime: true, fromWasmOption: false });
    expect(r.resolved).toMatch(/node_modules\/ndis-pool\/dist\/index\.cjs$/);
    expect(r.version).toBe(pkg.version);
  });

  it('the ndis-pool command: demo --json, poolmon piped, bench explains it needs a checkout', async ({ expect }) => {
    const bin = join(dir, 'node_modules/.bin/ndis-pool');
    const [demoOut, mon, bench] = await Promise.all([
      runOkAsync(bin, ['demo', '--frames', '16', '--json'], dir),
      runOkAsync(bin, ['poolmon', '--duration', '1', '--interval', '250', '--rate', '5000'], dir),
      runAsync(bin, ['bench', '--quick'], dir),
    ]);
    const demo = JSON.parse(demoOut) as { ok: boolean; frames: number; protocols: { received: number }[] };
    expect(demo.ok).toBe(true);
    expect(demo.protocols.map((p) => p.received)).toEqual([16, 16]);

    expect(mon).not.toMatch(/\x1b\[/); // piped: no cursor movement
    expect(mon).toMatch(/^t=\d+\.\d\d allocs\/s=\d+ bytes=\d+$/m);
    expect(mon).toMatch(/tag=PSnd type=NBL allocs=\d+/);
    expect(mon).toMatch(/adapter=vnic1 sent=\d+ received=\d+/);
    expect(mon.trim().split('\n').at(-1)).toBe('stopped: every pool freed, 0 objects outstanding.');

    expect(bench.code).toBe(2);
    expect(bench.stderr).toMatch(/part of the source repository/);
  });

  const tsSource = `
    import {
      NdisAllocateNetBufferPool, NdisAllocateNetBufferMdlAndData, NdisFreeNetBuffer, NdisFreeNetBufferPool,
      NET_BUFFER_DATA_LENGTH, NDIS_OBJECT_TYPE_DEFAULT, NET_BUFFER_POOL_PARAMETERS_REVISION_1,
      NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1, POOL_TAG, createRuntimeSync,
      type NdisRuntime, type PNET_BUFFER, type PoolmonRow, type RuntimeOptions,
    } from 'ndis-pool';
    const pool = NdisAllocateNetBufferPool(0, {
      Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1 },
      PoolTag: POOL_TAG('txkP'), DataSize: 1514,
    });
    if (!pool) throw new Error('out of memory');
    const nb: PNET_BUFFER | 0 = NdisAllocateNetBufferMdlAndData(pool);
    if (nb) { const n: number = NET_BUFFER_DATA_LENGTH(nb); NdisFreeNetBuffer(nb); void n; }
    NdisFreeNetBufferPool(pool);
    const options: RuntimeOptions = { maxMemory: 1 << 24, wasm: new Uint8Array(8) };
    const rt: NdisRuntime = createRuntimeSync(options);
    const rows: PoolmonRow[] = rt.poolmon();
    // @ts-expect-error an NB is not a pool handle
    NdisFreeNetBufferPool(nb as PNET_BUFFER);
    export { rows };
  `;

  async function typecheck(name: string, compilerOptions: Record<string, unknown>, files: Record<string, string>): Promise<string> {
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    writeFileSync(join(dir, `tsconfig.${name}.json`), JSON.stringify({
      compilerOptions: {
        strict: true, noEmit: true, skipLibCheck: false, skipDefaultLibCheck: true, target: 'ES2022', ...compilerOptions,
      },
      files: Object.keys(files),
    }, null, 2));
    const r = await runAsync(process.execPath, [tsc, '-p', `tsconfig.${name}.json`, '--listFiles'], dir);
    if (r.code !== 0) throw new Error(`tsc (${name}) failed:\n${r.stdout.split('\n').filter((l) => /error TS/.test(l)).join('\n')}\n${r.stderr}`);
    return r.stdout;
  }

  it('types resolve under tsc --noEmit with moduleResolution: bundler', async ({ expect }) => {
    const out = await typecheck('bundler', { module: 'ESNext', moduleResolution: 'bundler', lib: ['ES2022', 'DOM', 'ESNext.Disposable'], types: [] }, { 'check-bundler.ts': tsSource });
    expect(out).toMatch(/node_modules\/ndis-pool\/dist\/index\.d\.ts/);
  });

  it('types resolve under tsc --noEmit with module/moduleResolution: node16 (import from ESM, require from CJS)', async ({ expect }) => {
    const out = await typecheck('node16', { module: 'node16', moduleResolution: 'node16', types: ['node'], typeRoots: [join(root, 'node_modules/@types')] }, {
      'check-esm.mts': tsSource,
      'check-cjs.cts': tsSource.replace('export { rows };', 'export = rows;'),
    });
    expect(out).toMatch(/node_modules\/ndis-pool\/dist\/index\.d\.ts/);
    expect(out).toMatch(/node_modules\/ndis-pool\/dist\/index\.d\.cts/);
  });
});
