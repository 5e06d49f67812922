// One multi-worker runtime shared by WORKERS Web Workers: each attaches (attachRuntime), opens
// the same SlabPool (its own cache), allocates objects stamped (owner, sequence) and passes them
// to the next worker through a SharedRing; that worker checks the stamps and frees them. The
// page then checks that every object came back: the pool's counters are exact, nothing is
// outstanding, and every ring moved every descriptor.
import { createRuntime } from 'ndis-pool';

const WORKERS = 4, ROUNDS = 50, BATCH = 200;
const status = document.getElementById('status');
const out = document.getElementById('out');

try {
  if (!crossOriginIsolated) throw new Error('this page needs cross-origin isolation (COOP/COEP) for SharedArrayBuffer');
  const rt = await createRuntime({ shared: true, maxMemory: 64 << 20 });
  const pool = rt.createSlabPool({ objectSize: 64, tag: 'WkrB' });
  const rings = Array.from({ length: WORKERS }, () => rt.createSharedRing({ capacity: 256, producers: 'single', consumers: 'single' }));
  const t0 = performance.now();
  const results = await Promise.all(rings.map((_, me) => new Promise((resolve, reject) => {
    const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    w.onmessage = (e) => { resolve(e.data); w.terminate(); };
    w.onerror = (e) => reject(new Error(`worker ${me}: ${e.message}`));
    w.postMessage({ d: rt.share(), me, n: WORKERS, pool: pool.handle, rings: rings.map((r) => r.handle), total: ROUNDS * BATCH });
  })));
  const ms = performance.now() - t0;
  const stats = pool.stats();
  const ok = results.every((r) => r.bad === 0 && r.received === ROUNDS * BATCH && r.allocs === ROUNDS * BATCH)
    && stats.outstanding === 0 && stats.allocs === WORKERS * ROUNDS * BATCH && stats.frees === stats.allocs
    && rings.every((r) => r.stats().enqueued === ROUNDS * BATCH && r.count === 0);
  for (const r of rings) r.destroy();
  window.ndisWorkers = { ok, crossOriginIsolated, workers: results, stats: { allocs: stats.allocs, frees: stats.frees, outstanding: stats.outstanding }, ms };
  pool.destroy();
  status.textContent = ok ? `ok: ${stats.allocs} objects crossed ${WORKERS} workers in ${ms.toFixed(0)} ms` : 'FAILED';
  out.textContent = JSON.stringify(window.ndisWorkers, null, 2);
} catch (e) {
  window.ndisWorkers = { ok: false, error: String(e?.stack ?? e) };
  status.textContent = 'error: ' + e;
}
