// One multi-worker runtime shared by WORKERS Web Workers: each attaches (attachRuntime), opens
// the same SlabPool (its own cache), allocates objects stamped (owner, sequence), passes them to
// the next worker, which checks the stamps and frees them. The page then checks that every
// object came back: the pool's counters are exact and nothing is outstanding.
import { createRuntime } from 'ndis-pool';

const WORKERS = 4, ROUNDS = 50, BATCH = 200;
const status = document.getElementById('status');
const out = document.getElementById('out');

try {
  if (!crossOriginIsolated) throw new Error('this page needs cross-origin isolation (COOP/COEP) for SharedArrayBuffer');
  const rt = await createRuntime({ shared: true, maxMemory: 64 << 20 });
  const pool = rt.createSlabPool({ objectSize: 64, tag: 'WkrB' });
  const channels = Array.from({ length: WORKERS }, () => new MessageChannel());
  const t0 = performance.now();
  const results = await Promise.all(channels.map((_, me) => new Promise((resolve, reject) => {
    const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    const send = channels[(me + 1) % WORKERS].port1;
    const recv = channels[me].port2;
    w.onmessage = (e) => { resolve(e.data); w.terminate(); };
    w.onerror = (e) => reject(new Error(`worker ${me}: ${e.message}`));
    w.postMessage({ d: rt.share(), me, n: WORKERS, pool: pool.handle, rounds: ROUNDS, batch: BATCH, send, recv }, [send, recv]);
  })));
  const ms = performance.now() - t0;
  const stats = pool.stats();
  const ok = results.every((r) => r.bad === 0 && r.received === ROUNDS * BATCH && r.allocs === ROUNDS * BATCH)
    && stats.outstanding === 0 && stats.allocs === WORKERS * ROUNDS * BATCH && stats.frees === stats.allocs;
  window.ndisWorkers = { ok, crossOriginIsolated, workers: results, stats: { allocs: stats.allocs, frees: stats.frees, outstanding: stats.outstanding }, ms };
  pool.destroy();
  status.textContent = ok ? `ok: ${stats.allocs} objects crossed ${WORKERS} workers in ${ms.toFixed(0)} ms` : 'FAILED';
  out.textContent = JSON.stringify(window.ndisWorkers, null, 2);
} catch (e) {
  window.ndisWorkers = { ok: false, error: String(e?.stack ?? e) };
  status.textContent = 'error: ' + e;
}
