#!/usr/bin/env node
/**
 * `ndis-pool`: the package's command (DESIGN: src/cli.ts).
 *
 *   ndis-pool demo [--frames N] [--json]          the showcase of `npm start`
 *   ndis-pool poolmon [--rate N] [--frame-size N] [--burst N] [--interval ms] [--duration s] [--json]
 *                                                 a live per-tag pool table while a vNIC workload runs
 *   ndis-pool bench [--quick] [--filter re] [--json [file]]
 *                                                 the benchmark suite (in a source checkout)
 *
 * `demo` and `bench` run their scripts in a child Node process with the same arguments, so their
 * output is exactly that of `npm start` and `npm run bench`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { NdisRuntime, PoolmonRow, NicCounters, PNET_BUFFER_LIST, PNET_BUFFER, PMDL, NDIS_HANDLE, NDIS_BIND_PARAMETERS } from './index.js';

// This file runs as dist/cli.mjs (the package's bin) or build/ts/cli.js (the source tree).
const here = import.meta.url;
const ext = here.endsWith('.mjs') ? '.mjs' : '.js';

function packageJson(): { version: string } {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const p = JSON.parse(readFileSync(new URL(rel, here), 'utf8')) as { name?: string; version: string };
      if (p.name === 'ndis-pool') return p;
    } catch {
      // try the next one
    }
  }
  return { version: '0.0.0' };
}

function intArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}]`);
    return n;
  };
}

/** Runs `node <script> <args>` with this terminal; resolves to its exit code. */
function runNode(script: string, args: string[], stdout: 'inherit' | 'stderr' = 'inherit'): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['inherit', stdout === 'inherit' ? 'inherit' : 'pipe', 'inherit'] });
    if (stdout === 'stderr') child.stdout!.pipe(process.stderr);
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward).off('SIGTERM', forward);
      resolve(code ?? 128 + (signal ? osConstants.signals[signal] ?? 0 : 0));
    });
  });
}

// -- demo ----------------------------------------------------------------------------------------

async function demo(opts: { frames?: string; json?: boolean }): Promise<number> {
  const script = fileURLToPath(new URL(`./demo${ext}`, here));
  const args: string[] = [];
  if (opts.frames !== undefined) args.push('--frames', opts.frames);
  if (opts.json) args.push('--json');
  return runNode(script, args);
}

// -- bench ---------------------------------------------------------------------------------------

async function bench(opts: { quick?: boolean; filter?: string; json?: string | boolean }): Promise<number> {
  const candidates = ['../bench/index.js', '../../bench/index.js'].map((r) => fileURLToPath(new URL(r, here)));
  const script = candidates.find((p) => existsSync(p));
  if (!script) {
    process.stderr.write(
      'ndis-pool bench: the benchmark suite is part of the source repository, not of the npm package.\n' +
      'Run it from a checkout: npm ci && npm run build && npx ndis-pool bench (or npm run bench).\n',
    );
    return 2;
  }
  if (!existsSync(join(script, '../../build/ts/index.js'))) {
    process.stderr.write('ndis-pool bench: build/ts is missing; run `npm run build` first.\n');
    return 2;
  }
  const args: string[] = [];
  if (opts.quick) args.push('--quick');
  if (opts.filter !== undefined) args.push('--filter', opts.filter);
  if (typeof opts.json === 'string') {
    args.push('--json', opts.json);
    return runNode(script, args);
  }
  if (opts.json === true) {
    // JSON on stdout: the suite's progress and tables go to stderr, its result file to stdout.
    const dir = mkdtempSync(join(tmpdir(), 'ndis-pool-bench-'));
    try {
      const file = join(dir, 'results.json');
      const code = await runNode(script, [...args, '--json', file], 'stderr');
      if (code === 0) process.stdout.write(readFileSync(file, 'utf8').trimEnd() + '\n');
      return code;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return runNode(script, args);
}

// -- poolmon -------------------------------------------------------------------------------------

interface PoolmonOptions {
  rate: number;
  frameSize: number;
  burst: number;
  dpcInterval: number;
  interval: number;
  duration: number;
  json: boolean;
}

/**
 * The workload under poolmon: two virtual adapters on a hub, a protocol bound to each, sending
 * Ethernet frames to each other at `rate` frames/s per adapter, in bursts of `burst`, each in a
 * freshly allocated NBL that send-complete frees. The virtual hardware's DPCs run every
 * `dpcInterval` ms (interrupt moderation), so frames are in flight in between.
 */
function startWorkload(rt: NdisRuntime, k: typeof import('./index.js'), o: PoolmonOptions) {
  const noop = () => 0;
  interface Bound { name: string; binding: NDIS_HANDLE; pool: NDIS_HANDLE; mac: number[]; sent: number; completed: number; received: number }
  const bound: Bound[] = [];
  const proto = { value: 0 as NDIS_HANDLE | 0 };
  rt.NdisRegisterProtocolDriver(0, {
    Header: { Type: k.NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS, Revision: k.NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1, Size: k.NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1 },
    MajorNdisVersion: 6, MinorNdisVersion: 20, Name: 'PoolmonProt',
    BindAdapterHandlerEx(_ctx: number, BindContext: object, params: NDIS_BIND_PARAMETERS) {
      const out = { value: 0 as NDIS_HANDLE | 0 };
      const ctx = bound.length;
      const s = rt.NdisOpenAdapterEx(proto.value as NDIS_HANDLE, ctx, { Header: { Type: k.NDIS_OBJECT_TYPE_OPEN_PARAMETERS, Revision: 1, Size: 0x24 }, AdapterName: params.AdapterName }, BindContext, out);
      if (s !== k.NDIS_STATUS_SUCCESS) return s;
      const pool = rt.NdisAllocateNetBufferListPool(out.value, {
        Header: { Type: k.NDIS_OBJECT_TYPE_DEFAULT, Revision: k.NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, Size: k.NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 },
        ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: k.POOL_TAG('dnSP'), DataSize: 1514,
      });
      if (!pool) {
        rt.NdisCloseAdapterEx(out.value as NDIS_HANDLE);
        return k.NDIS_STATUS_RESOURCES;
      }
      bound.push({ name: params.AdapterName, binding: out.value as NDIS_HANDLE, pool, mac: params.CurrentMacAddress, sent: 0, completed: 0, received: 0 });
      return k.NDIS_STATUS_SUCCESS;
    },
    UnbindAdapterHandlerEx(_u: object, ctx: number) {
      const b = bound[ctx]!;
      rt.NdisFreeNetBufferListPool(b.pool);
      return rt.NdisCloseAdapterEx(b.binding);
    },
    OpenAdapterCompleteHandlerEx: noop, CloseAdapterCompleteHandlerEx: noop, NetPnPEventHandler: noop,
    OidRequestCompleteHandler: noop, StatusHandlerEx: noop,
    ReceiveNetBufferListsHandler(ctx: number, nbls: PNET_BUFFER_LIST, _port: number, count: number) {
      bound[ctx]!.received += count;
      rt.NdisReturnNetBufferLists(bound[ctx]!.binding, nbls, 0);
    },
    SendNetBufferListsCompleteHandler(ctx: number, nbls: PNET_BUFFER_LIST) {
      bound[ctx]!.completed += rt.freeNetBufferListChain(nbls);
    },
  }, proto);
  const miniport = rt.registerVirtualMiniport({ tcbCount: 256, rcbCount: 256 });
  const hub = rt.createHub('poolmon hub')!;
  const adapters = [
    rt.createAdapter(miniport, { name: 'vnic0', macAddress: [0x02, 0, 0x5e, 0, 0, 1], hub })!,
    rt.createAdapter(miniport, { name: 'vnic1', macAddress: [0x02, 0, 0x5e, 0, 0, 2], hub })!,
  ];

  const sendBurst = (b: Bound, peer: Bound, n: number) => {
    let head = 0;
    let i = 0;
    for (; i < n; i++) {
      const nbl = rt.NdisAllocateNetBufferList(b.pool, 0, 0);
      if (!nbl) break; // exhaustion is NULL: send what we have
      const nb = rt.NET_BUFFER_LIST_FIRST_NB(nbl) as PNET_BUFFER;
      rt.NET_BUFFER_DATA_LENGTH_SET(nb, o.frameSize);
      const f = rt.bytes(rt.MmGetSystemAddressForMdlSafe(rt.NET_BUFFER_FIRST_MDL(nb) as PMDL, k.NormalPagePriority), 14);
      f.set(peer.mac, 0);
      f.set(b.mac, 6);
      f[12] = 0x88;
      f[13] = 0xb5;
      rt.NET_BUFFER_LIST_NEXT_NBL_SET(nbl, head as PNET_BUFFER_LIST);
      head = nbl;
    }
    if (head) rt.NdisSendNetBufferLists(b.binding, head as PNET_BUFFER_LIST, 0, 0);
    b.sent += i;
  };

  let due = 0;
  let lastTick = performance.now();
  let lastDpc = lastTick;
  const timer = setInterval(() => {
    const now = performance.now();
    // Frames owed since the last tick (at most one second's worth: a stalled loop does not flood).
    due = Math.min(due + ((now - lastTick) / 1000) * o.rate, o.rate);
    lastTick = now;
    while (due >= 1) {
      const n = Math.min(o.burst, Math.floor(due));
      for (let i = 0; i < bound.length; i++) sendBurst(bound[i]!, bound[(i + 1) % bound.length]!, n);
      due -= n;
    }
    if (now - lastDpc >= o.dpcInterval) {
      rt.runDpcs();
      lastDpc = now;
    }
  }, Math.max(1, Math.min(o.dpcInterval, 10)));

  return {
    adapters,
    bound,
    counters: (): NicCounters[] => adapters.map((a) => rt.nicCounters(a.handle)!),
    stop() {
      clearInterval(timer);
      rt.runDpcs();
      for (const a of adapters) a.remove();
      rt.NdisDeregisterProtocolDriver(proto.value as NDIS_HANDLE);
      rt.NdisMDeregisterMiniportDriver(miniport as NDIS_HANDLE);
      hub.destroy();
    },
  };
}

const num = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

async function poolmon(o: PoolmonOptions): Promise<number> {
  const k = await import('./index.js');
  const rt = await k.createRuntime();
  const w = startWorkload(rt, k, o);
  const tty = !!process.stdout.isTTY && !o.json;
  const t0 = performance.now();
  let prevAllocs = 0;
  let prevT = t0;
  let lines = 0;
  let done = false;

  const snapshot = () => {
    const now = performance.now();
    const rows = rt.poolmon();
    const allocs = rows.reduce((n, r) => n + r.allocs, 0);
    const bytes = rows.reduce((n, r) => n + r.bytes, 0);
    const rate = ((allocs - prevAllocs) * 1000) / Math.max(1, now - prevT);
    prevAllocs = allocs;
    prevT = now;
    return { t: (now - t0) / 1000, allocsPerSec: rate, bytesInUse: bytes, rows, adapters: w.counters() };
  };

  const show = () => {
    const s = snapshot();
    if (o.json) {
      const rows = s.rows.map(({ tag, type, allocs, frees, outstanding, bytes, peak, failures, pools }: PoolmonRow) => ({ tag, type, allocs, frees, outstanding, bytes, peak, failures, pools }));
      process.stdout.write(JSON.stringify({ t: +s.t.toFixed(3), allocsPerSec: Math.round(s.allocsPerSec), bytesInUse: s.bytesInUse, rows, adapters: s.adapters }) + '\n');
      return;
    }
    if (!tty) {
      const t = `t=${s.t.toFixed(2)}`;
      const out = [`${t} allocs/s=${Math.round(s.allocsPerSec)} bytes=${s.bytesInUse}`];
      for (const r of s.rows) out.push(`${t} tag=${r.tag} type=${r.type} allocs=${r.allocs} frees=${r.frees} diff=${r.outstanding} bytes=${r.bytes} peak=${r.peak} fail=${r.failures}`);
      for (const a of s.adapters) out.push(`${t} adapter=${a.name} sent=${a.framesSent} received=${a.framesReceived} dropped=${a.framesDropped} errors=${a.sendErrors}`);
      process.stdout.write(out.join('\n') + '\n');
      return;
    }
    const head =
      `ndis-pool poolmon: 2 virtual adapters, ${num(o.rate)} frames/s each, ${o.frameSize}-byte frames, bursts of ${o.burst}, DPC every ${o.dpcInterval} ms` +
      `\nelapsed ${s.t.toFixed(1)} s   allocations/s ${num(s.allocsPerSec)}   bytes in use ${num(s.bytesInUse)}   (q or Ctrl-C quits)`;
    const adapters = s.adapters.map((a) => `  ${a.name}: sent ${num(a.framesSent)} (${num(a.bytesSent)} B), received ${num(a.framesReceived)}, dropped ${num(a.framesDropped)}, errors ${a.sendErrors}`);
    const text = [head, rt.poolmonTable(), 'adapters:', ...adapters].join('\n');
    // Redraw in place: back to the first line of the previous frame, clear to the end.
    process.stdout.write((lines ? `\x1b[${lines}F\x1b[J` : '') + text + '\n');
    lines = text.split('\n').length;
  };

  return new Promise<number>((resolve) => {
    const display = setInterval(show, o.interval);
    const stopTimer = o.duration > 0 ? setTimeout(() => finish(), o.duration * 1000) : undefined;
    const stdin = process.stdin;
    const onKey = (d: Buffer) => {
      const c = d.toString();
      if (c === 'q' || c === 'Q' || c === '\x03') finish();
    };
    if (tty && stdin.isTTY) {
      stdin.setRawMode(true);
      stdin.on('data', onKey).resume();
    }
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(display);
      if (stopTimer) clearTimeout(stopTimer);
      if (tty && stdin.isTTY) {
        stdin.setRawMode(false);
        stdin.off('data', onKey).pause();
      }
      process.off('SIGINT', finish).off('SIGTERM', finish);
      show();
      w.stop();
      const left = rt.poolmon().reduce((n, r) => n + r.outstanding, 0);
      const lost = w.bound.some((b) => b.completed !== b.sent);
      if (!o.json) process.stdout.write(left === 0 && !lost ? 'stopped: every pool freed, 0 objects outstanding.\n' : `stopped: ${left} objects outstanding${lost ? ', sends not completed' : ''}!\n`);
      resolve(left === 0 && !lost ? 0 : 1);
    };
    process.on('SIGINT', finish).on('SIGTERM', finish);
    // A closed pipe (`| head`) ends the run quietly.
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') finish();
    });
  });
}

// -- the command ---------------------------------------------------------------------------------

export async function main(argv: string[] = process.argv): Promise<number> {
  let code = 0;
  const program = new Command('ndis-pool')
    .description('WebAssembly slab allocator with the Windows NDIS buffer-pool API: showcase, live poolmon and benchmarks')
    .version(packageJson().version)
    .showHelpAfterError()
    .exitOverride((e) => {
      throw e;
    });

  program.command('demo')
    .description('the showcase (npm start): two virtual NICs on a hub exchange Ethernet frames, then everything is torn down')
    .option('--frames <n>', 'frames each adapter sends (default 64, at most 100000)')
    .option('--json', 'print the results as JSON')
    .action(async (opts: { frames?: string; json?: boolean }) => {
      code = await demo(opts);
    });

  program.command('poolmon')
    .description('live per-tag pool table (Windows poolmon style) while a virtual-NIC workload runs; plain lines when piped')
    .addOption(new Option('--rate <frames/s>', 'frames per second each adapter sends').argParser(intArg('--rate', 0, 10_000_000)).default(20_000))
    .addOption(new Option('--frame-size <bytes>', 'Ethernet frame size').argParser(intArg('--frame-size', 14, 1514)).default(512))
    .addOption(new Option('--burst <n>', 'frames per NdisSendNetBufferLists call').argParser(intArg('--burst', 1, 256)).default(32))
    .addOption(new Option('--dpc-interval <ms>', 'how often the virtual hardware runs its DPCs').argParser(intArg('--dpc-interval', 1, 1000)).default(5))
    .addOption(new Option('--interval <ms>', 'refresh interval').argParser(intArg('--interval', 50, 60_000)).default(1000))
    .addOption(new Option('--duration <s>', 'stop after this many seconds (0: until q or Ctrl-C)').argParser(intArg('--duration', 0, 86_400)).default(0))
    .option('--json', 'one JSON object per refresh (NDJSON)', false)
    .action(async (opts: PoolmonOptions) => {
      code = await poolmon(opts);
    });

  program.command('bench')
    .description('the benchmark suite (bench/index.js; needs a source checkout)')
    .option('--quick', 'short run (about 2 s per case)')
    .option('--filter <regex>', 'only cases whose name matches')
    .option('--json [file]', 'machine-readable results: to <file>, or to stdout (tables then go to stderr)')
    .action(async (opts: { quick?: boolean; filter?: string; json?: string | boolean }) => {
      code = await bench(opts);
    });

  try {
    await program.parseAsync(argv);
  } catch (e) {
    const ce = e as { code?: string; exitCode?: number };
    if (typeof ce.exitCode === 'number' && ce.code?.startsWith('commander.')) return ce.exitCode;
    throw e;
  }
  return code;
}

process.exitCode = await main();
