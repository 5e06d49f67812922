/**
 * ndis-pool in a real browser: headless Chromium (Debian's `chromium` at /usr/bin/chromium,
 * driven by playwright-core; no downloaded browser) loads pages from a static server on
 * 127.0.0.1 (scripts/serve.mjs; `.wasm` served as application/wasm):
 *
 * - examples/browser/: a plain <script type="module"> page (an import map, no bundler) that
 *   imports dist/browser.mjs and runs the showcase's scenario: NET_BUFFER and NBL pools, then two
 *   virtual NICs on a hub exchanging frames through a protocol and runDpcs(), then teardown; and
 *   createRuntime({ wasm }) compiling ndis.wasm while streaming. Unisolated and cross-origin
 *   isolated (shared memory).
 * - examples/dashboard/: the live poolmon page; the numbers must move and follow the controls. A
 *   screenshot goes to docs/dashboard.png when that file is missing or UPDATE_SCREENSHOTS=1 is set
 *   (`npm run screenshot`), else to build/dashboard.png.
 *
 * Skipped, with a message, only when Chromium is missing and CI is not set; in CI it must run.
 * Needs dist/ (`npm run build`; `npm test` builds it first).
 */
import { describe, it, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, type StaticServer } from '../scripts/serve.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const inCI = !!process.env.CI;
const skip = !haveChromium && !inCI;
if (skip) {
  console.warn(`[browser.test.ts] SKIPPED: no Chromium at ${CHROMIUM}. Install it with \`apt-get install -y chromium\` ` +
    '(or set CHROMIUM_PATH); .ci/run installs it, and with CI set these tests run (and fail without a browser).');
}

interface Results {
  ok: boolean;
  sharedMemory: boolean;
  crossOriginIsolated: boolean;
  netBufferPool: { allocated: number; distinct: number; dataLength: number; outstanding: number; intact: boolean };
  netBufferListPool: { counted: number; freed: number };
  vnic: {
    frames: number;
    protocols: { adapter: string; sent: number; completed: number; received: number; bad: number }[];
    adapters: { name: string; framesSent: number; framesReceived: number; framesDropped: number; sendErrors: number }[];
    poolmon: { tag: string; type: string; allocs: number; peak: number }[];
    poolmonTable: string;
  };
  outstandingAfterTeardown: number;
  streaming: { calls: number; contentType: string | null; sharedMemory: boolean; allocated: boolean; outstanding: number; isolated: boolean };
}

interface Sample {
  t: number; allocs: number; bytes: number; received: number; allocsPerSec: number; framesPerSec: number; tags: string[];
  adapters: { name: string; framesSent: number; framesReceived: number; bytesReceived: number; framesDropped: number }[];
}
declare const window: { ndisResults?: Results; dashboard: { latest(): Sample | undefined; samples: unknown[]; set(v: Record<string, number>): void } };

// The pages are independent: they run concurrently, each in its own page of one browser.
describe.skipIf(skip).concurrent('in headless Chromium (playwright-core, /usr/bin/chromium)', { timeout: 90_000 }, () => {
  let server: StaticServer;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist/browser.mjs'))) throw new Error('dist/ is missing: run `npm run build` (npm test builds it)');
    server = await startServer({ root });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Opens a page; `errors` collects its uncaught exceptions and console errors. */
  async function open(path: string, viewport = { width: 1200, height: 800 }): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`${path}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${path}: console: ${m.text()}`);
    });
    const res = await page.goto(server.url + path);
    if (res?.status() !== 200) throw new Error(`${path}: HTTP ${res?.status()}`);
    return { page, errors };
  }

  /** Loads the example page and returns its results (and its errors). */
  async function scenario(path: string): Promise<{ results: Results; errors: string[] }> {
    const { page, errors } = await open(path);
    try {
      await page.waitForFunction(() => window.ndisResults !== undefined, null, { timeout: 30_000 });
      return { results: (await page.evaluate(() => window.ndisResults))!, errors };
    } finally {
      await page.close();
    }
  }

  // One load of the plain page serves the first two tests.
  let plain: Promise<{ results: Results; errors: string[] }> | undefined;
  const plainPage = () => (plain ??= scenario('examples/browser/'));

  it('a plain <script type="module"> page imports dist/browser.mjs and runs the NDIS scenario: pools, NBLs, the vNIC hub', async ({ expect }) => {
    const { results: r, errors } = await plainPage();
    expect(errors).toEqual([]);
    expect(r.crossOriginIsolated).toBe(false);
    expect(r.sharedMemory).toBe(false); // no SharedArrayBuffer without isolation
    expect(r.netBufferPool).toEqual({ allocated: 32, distinct: 32, dataLength: 1514, outstanding: 32, intact: true });
    expect(r.netBufferListPool).toEqual({ counted: 16, freed: 16 });
    expect(r.vnic.protocols).toEqual([
      { adapter: 'vnic0', sent: 256, completed: 256, received: 256, bad: 0 },
      { adapter: 'vnic1', sent: 256, completed: 256, received: 256, bad: 0 },
    ]);
    expect(r.vnic.adapters.map((a) => [a.name, a.framesSent, a.framesReceived, a.framesDropped, a.sendErrors])).toEqual([
      ['vnic0', 256, 256, 0, 0],
      ['vnic1', 256, 256, 0, 0],
    ]);
    // poolmon in the page: the protocol's send pools (one per binding) and the miniport's receive NBLs.
    const tags = Object.fromEntries(r.vnic.poolmon.map((p) => [p.tag, p]));
    expect(tags.BwPg).toMatchObject({ type: 'NBL', allocs: 512 });
    expect(tags.NVMr).toMatchObject({ type: 'NBL', allocs: 512, peak: 256 });
    // formatPoolmon (cli-table3, bundled into dist/browser.mjs) works in the page too.
    expect(r.vnic.poolmonTable).toMatch(/│ Tag +│ Type +│ Allocs +│/);
    expect(r.vnic.poolmonTable).toMatch(/│ NVMr +│ NBL +│ +512 +│/);
    expect(r.outstandingAfterTeardown).toBe(0);
    expect(r.ok).toBe(true);
  });

  it('createRuntime({ wasm }) compiles ndis.wasm while streaming when it is served as application/wasm', async ({ expect }) => {
    const { results: r } = await plainPage();
    expect(r.streaming).toEqual({ calls: 1, contentType: 'application/wasm', sharedMemory: false, allocated: true, outstanding: 0, isolated: true });
    // Without the MIME type (here a Response built from the bytes) it falls back to compiling the bytes.
    const { page, errors } = await open('examples/browser/');
    try {
      // A string, so that vitest's transform leaves the page's dynamic import alone.
      const fallback = await page.evaluate(`(async () => {
        const m = await import('/dist/browser.mjs');
        const bytes = await (await fetch('/dist/ndis.wasm')).arrayBuffer();
        let streamed = 0;
        const original = WebAssembly.compileStreaming;
        WebAssembly.compileStreaming = (s) => (streamed++, original.call(WebAssembly, s));
        try {
          const rt = await m.createRuntime({ wasm: new Response(bytes) });
          const pool = rt.createSlabPool({ objectSize: 32, tag: 'Fall' });
          const p = pool.alloc();
          pool.free(p);
          return { streamed, allocated: p > 0 };
        } finally {
          WebAssembly.compileStreaming = original;
        }
      })()`);
      expect(fallback).toEqual({ streamed: 0, allocated: true });
    } finally {
      await page.close();
    }
    expect(errors).toEqual([]);
  });

  it('the same page cross-origin isolated (COOP/COEP): the default runtime uses shared memory', async ({ expect }) => {
    const { results: r, errors } = await scenario('examples/browser/?coi');
    expect(r.crossOriginIsolated).toBe(true);
    expect(r.sharedMemory).toBe(true);
    expect(r.ok).toBe(true);
    expect(errors).toEqual([]);
  });

  it('a multi-worker runtime in 4 Web Workers (cross-origin isolated): objects cross workers, nothing is lost', async ({ expect }) => {
    // A server that isolates every response (as `npm run dashboard`'s does), workers included.
    const iso = await startServer({ root, isolate: true });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
    try {
      await page.goto(iso.url + 'examples/workers/');
      await page.waitForFunction(() => (window as unknown as { ndisWorkers?: unknown }).ndisWorkers !== undefined, null, { timeout: 30_000 });
      const r = await page.evaluate(() => (window as unknown as { ndisWorkers: { ok: boolean; error?: string; crossOriginIsolated: boolean; workers: { bad: number; allocs: number; received: number; worker: number }[]; stats: { allocs: number; frees: number; outstanding: number } } }).ndisWorkers);
      expect(r.error).toBeUndefined();
      expect(r.crossOriginIsolated).toBe(true);
      expect(r.workers.map((w) => w.worker).sort()).toEqual([2, 3, 4, 5]);
      for (const w of r.workers) expect(w).toMatchObject({ bad: 0, allocs: 50 * 200, received: 50 * 200 });
      expect(r.stats).toEqual({ allocs: 4 * 50 * 200, frees: 4 * 50 * 200, outstanding: 0 });
      expect(r.ok).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await iso.close();
    }
  });

  it('the dashboard runs the hub in the page: the numbers move and follow the controls; screenshot', async ({ expect }) => {
    const { page, errors } = await open('examples/dashboard/', { width: 1200, height: 760 });
    const latest = () => page.evaluate(() => window.dashboard.latest()) as Promise<Sample>;
    const sleep = (ms: number) => page.waitForTimeout(ms);
    try {
      await page.waitForFunction(() => window.dashboard?.samples.length >= 4, null, { timeout: 20_000 });
      const a = await latest();
      await sleep(700);
      const b = await latest();
      expect(b.allocs).toBeGreaterThan(a.allocs);
      expect(b.received).toBeGreaterThan(a.received);
      expect(b.allocsPerSec).toBeGreaterThan(1000);
      expect(b.tags).toEqual(expect.arrayContaining(['DSnd', 'NVMr', 'vNIC', 'vHub']));
      expect(b.adapters.map((x) => x.name)).toEqual(['vnic0', 'vnic1']);
      // What the page shows.
      const shown = await page.evaluate(() => ({
        allocsRate: Number(document.getElementById('allocs-rate')!.textContent!.replace(/,/g, '')),
        bytesInUse: Number(document.getElementById('bytes-in-use')!.textContent!.replace(/,/g, '')),
        poolRows: document.querySelectorAll('#pool-table tbody tr').length,
        adapterRows: [...document.querySelectorAll('#adapter-table tbody tr')].map((tr) => tr.children[0]!.textContent),
      }));
      expect(shown.allocsRate).toBeGreaterThan(0);
      expect(shown.bytesInUse).toBeGreaterThan(0);
      expect(shown.poolRows).toBeGreaterThanOrEqual(4);
      expect(shown.adapterRows).toEqual(['vnic0', 'vnic1']);

      // Rate 0: allocations stop.
      await page.evaluate(() => window.dashboard.set({ rate: 0 }));
      await page.waitForFunction(() => window.dashboard.latest()!.allocsPerSec === 0, null, { timeout: 5000 });
      const idle1 = await latest();
      await sleep(400);
      expect((await latest()).allocs).toBe(idle1.allocs);

      // Full-size frames in bursts of 64: every frame received from now on is 1514 bytes.
      await page.evaluate(() => window.dashboard.set({ rate: 40000, size: 1514, burst: 64 }));
      await sleep(300);
      const c = await latest();
      await sleep(700);
      const d = await latest();
      const frames = d.adapters[1]!.framesReceived - c.adapters[1]!.framesReceived;
      const bytes = d.adapters[1]!.bytesReceived - c.adapters[1]!.bytesReceived;
      expect(frames).toBeGreaterThan(1000);
      expect(bytes / frames).toBe(1514);
      expect(d.adapters.every((x) => x.framesDropped === 0)).toBe(true);

      await page.evaluate(() => window.dashboard.set({ rate: 20000, size: 512, burst: 32 }));
      await sleep(1000);
      const png = await page.screenshot({ fullPage: true });
      expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(png.length).toBeLessThan(400_000);
      const docs = join(root, 'docs/dashboard.png');
      const target = !existsSync(docs) || process.env.UPDATE_SCREENSHOTS === '1' ? docs : join(root, 'build/dashboard.png');
      mkdirSync(join(target, '..'), { recursive: true });
      writeFileSync(target, png);
      expect(readFileSync(target).length).toBe(png.length);
    } finally {
      await page.close();
    }
    expect(errors).toEqual([]);
  });
});
