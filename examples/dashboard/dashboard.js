/**
 * Live poolmon in the browser: the virtual NIC hub of ndis-pool runs in this page (two adapters
 * of the built-in netvmini-style miniport, a protocol bound to each sending Ethernet frames to the
 * other), and the page shows the per-tag pool table, the per-adapter counters and a chart of
 * allocations/s and bytes in use. The controls set the frame rate (per adapter), the frame size,
 * the burst (frames per NdisSendNetBufferLists) and how often the virtual hardware runs its DPCs
 * (frames are in flight, and their NBLs in use, until it does).
 *
 * `npm run dashboard` serves it; `window.dashboard` exposes the samples (the browser test reads them).
 */
import {
  defaultRuntime as rt, NdisRegisterProtocolDriver, NdisOpenAdapterEx, NdisCloseAdapterEx, NdisAllocateNetBufferListPool,
  NdisFreeNetBufferListPool, NdisAllocateNetBufferList, NdisSendNetBufferLists, NdisReturnNetBufferLists,
  NET_BUFFER_LIST_FIRST_NB, NET_BUFFER_LIST_NEXT_NBL_SET, NET_BUFFER_DATA_LENGTH_SET, NET_BUFFER_FIRST_MDL,
  MmGetSystemAddressForMdlSafe, NDIS_STATUS_SUCCESS, NDIS_STATUS_RESOURCES, NDIS_OBJECT_TYPE_DEFAULT,
  NDIS_OBJECT_TYPE_OPEN_PARAMETERS, NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS,
  NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1, NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1,
  NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
  NormalPagePriority, POOL_TAG,
} from 'ndis-pool';

const $ = (id) => document.getElementById(id);
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const fmtBytes = (n) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

// -- settings (the controls) ----------------------------------------------------------------------

const settings = { rate: 20000, size: 512, burst: 32, dpc: 10, paused: false };
const controls = {
  rate: [$('rate'), $('rate-out'), (v) => `${fmt(v)}/s`],
  size: [$('size'), $('size-out'), (v) => `${v} B`],
  burst: [$('burst'), $('burst-out'), (v) => `${v}`],
  dpc: [$('dpc'), $('dpc-out'), (v) => `${v} ms`],
};
for (const [key, [input, out, show]] of Object.entries(controls)) {
  const apply = () => {
    settings[key] = Number(input.value);
    out.textContent = show(settings[key]);
  };
  input.addEventListener('input', apply);
  apply();
}
$('pause').addEventListener('click', () => {
  settings.paused = !settings.paused;
  $('pause').textContent = settings.paused ? 'resume' : 'pause';
});

// -- the drivers ----------------------------------------------------------------------------------

const noop = () => 0;
const bound = [];
const protocol = { value: 0 };
NdisRegisterProtocolDriver(0, {
  Header: { Type: NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS, Revision: NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1, Size: NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1 },
  MajorNdisVersion: 6, MinorNdisVersion: 20, Name: 'DashProt',
  BindAdapterHandlerEx(_ctx, bindContext, params) {
    const ctx = bound.length;
    const open = { value: 0 };
    const s = NdisOpenAdapterEx(protocol.value, ctx, { Header: { Type: NDIS_OBJECT_TYPE_OPEN_PARAMETERS, Revision: 1, Size: 0x24 }, AdapterName: params.AdapterName }, bindContext, open);
    if (s !== NDIS_STATUS_SUCCESS) return s;
    // A send pool per binding ("dnSD": poolmon shows DSnd), frames up to 1514 bytes.
    const pool = NdisAllocateNetBufferListPool(open.value, {
      Header: { Type: NDIS_OBJECT_TYPE_DEFAULT, Revision: NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, Size: NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 },
      ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: POOL_TAG('dnSD'), DataSize: 1514,
    });
    if (!pool) {
      NdisCloseAdapterEx(open.value);
      return NDIS_STATUS_RESOURCES;
    }
    bound.push({ name: params.AdapterName, mac: params.CurrentMacAddress, binding: open.value, pool, sent: 0, completed: 0, received: 0 });
    return NDIS_STATUS_SUCCESS;
  },
  UnbindAdapterHandlerEx(_u, ctx) {
    NdisFreeNetBufferListPool(bound[ctx].pool);
    return NdisCloseAdapterEx(bound[ctx].binding);
  },
  OpenAdapterCompleteHandlerEx: noop, CloseAdapterCompleteHandlerEx: noop, NetPnPEventHandler: noop,
  OidRequestCompleteHandler: noop, StatusHandlerEx: noop,
  ReceiveNetBufferListsHandler(ctx, nbls, _port, count) {
    bound[ctx].received += count;
    NdisReturnNetBufferLists(bound[ctx].binding, nbls, 0);
  },
  SendNetBufferListsCompleteHandler(ctx, nbls) {
    bound[ctx].completed += rt.freeNetBufferListChain(nbls);
  },
}, protocol);

const miniport = rt.registerVirtualMiniport({ tcbCount: 256, rcbCount: 256 });
const hub = rt.createHub('dashboard hub');
const adapters = [
  rt.createAdapter(miniport, { name: 'vnic0', macAddress: [0x02, 0, 0x5e, 0, 0, 1], hub }),
  rt.createAdapter(miniport, { name: 'vnic1', macAddress: [0x02, 0, 0x5e, 0, 0, 2], hub }),
];

// -- the workload ---------------------------------------------------------------------------------

/** Allocates `n` NBLs from b's pool, writes Ethernet headers to the peer and sends the chain. */
function sendBurst(b, peer, n) {
  let head = 0;
  let i = 0;
  for (; i < n; i++) {
    const nbl = NdisAllocateNetBufferList(b.pool, 0, 0);
    if (!nbl) break;
    const nb = NET_BUFFER_LIST_FIRST_NB(nbl);
    NET_BUFFER_DATA_LENGTH_SET(nb, settings.size);
    const f = rt.bytes(MmGetSystemAddressForMdlSafe(NET_BUFFER_FIRST_MDL(nb), NormalPagePriority), 14);
    f.set(peer.mac, 0);
    f.set(b.mac, 6);
    f[12] = 0x88;
    f[13] = 0xb5;
    NET_BUFFER_LIST_NEXT_NBL_SET(nbl, head);
    head = nbl;
  }
  if (head) NdisSendNetBufferLists(b.binding, head, 0, 0);
  b.sent += i;
}

let due = 0;
let lastTick = performance.now();
let lastDpc = lastTick;
setInterval(() => {
  const now = performance.now();
  if (!settings.paused) {
    // Frames owed since the last tick, at most a second's worth (a throttled tab does not flood).
    due = Math.min(due + ((now - lastTick) / 1000) * settings.rate, settings.rate);
    while (due >= 1) {
      const n = Math.min(settings.burst, Math.floor(due));
      sendBurst(bound[0], bound[1], n);
      sendBurst(bound[1], bound[0], n);
      due -= n;
    }
  }
  lastTick = now;
  if (now - lastDpc >= settings.dpc) {
    rt.runDpcs();
    lastDpc = now;
  }
}, 2);

// -- sampling and display -------------------------------------------------------------------------

const SAMPLE_MS = 250;
const WINDOW = 60_000 / SAMPLE_MS;
const samples = [];
let prev = null;

function sample() {
  const t = performance.now();
  const rows = rt.poolmon();
  const counters = adapters.map((a) => rt.nicCounters(a.handle));
  const allocs = rows.reduce((n, r) => n + r.allocs, 0);
  const bytes = rows.reduce((n, r) => n + r.bytes, 0);
  const received = counters.reduce((n, c) => n + c.framesReceived, 0);
  const s = {
    t, allocs, bytes, received,
    allocsPerSec: prev ? ((allocs - prev.allocs) * 1000) / (t - prev.t) : 0,
    framesPerSec: prev ? ((received - prev.received) * 1000) / (t - prev.t) : 0,
    rows, counters,
  };
  prev = s;
  samples.push(s);
  if (samples.length > WINDOW) samples.shift();
  return s;
}

function renderTables(s) {
  $('pool-table').tBodies[0].innerHTML = s.rows.map((r) =>
    `<tr><td class="tag">${r.tag}</td><td>${r.type}</td><td>${fmt(r.allocs)}</td><td>${fmt(r.frees)}</td><td>${fmt(r.outstanding)}</td>` +
    `<td>${fmt(r.bytes)}</td><td>${r.outstanding ? fmt(r.bytes / r.outstanding) : 0}</td><td>${fmt(r.peak)}</td><td>${fmt(r.failures)}</td></tr>`).join('');
  $('adapter-table').tBodies[0].innerHTML = s.counters.map((c) =>
    `<tr><td>${c.name}</td><td>${fmt(c.framesSent)}</td><td>${fmt(c.framesReceived)}</td><td>${fmtBytes(c.bytesReceived)}</td>` +
    `<td>${fmt(c.framesDropped)}</td><td>${fmt(c.sendErrors)}</td><td>${fmt(c.sendsQueued - c.sendsCompleted)}</td></tr>`).join('');
  $('allocs-rate').textContent = fmt(s.allocsPerSec);
  $('bytes-in-use').textContent = fmt(s.bytes);
  $('frames-rate').textContent = fmt(s.framesPerSec);
  $('wasm-memory').textContent = fmtBytes(rt.memory.buffer.byteLength);
}

/** Allocations/s (left axis) and bytes in use (right axis) over the last 60 s. */
function renderChart() {
  const canvas = $('chart');
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
  if (canvas.height !== Math.round(h * dpr)) canvas.height = Math.round(h * dpr);
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const css = getComputedStyle(document.documentElement);
  const pad = { l: 64, r: 72, t: 8, b: 18 };
  const pw = w - pad.l - pad.r;
  const ph = h - pad.t - pad.b;
  const nice = (v) => {
    if (v <= 0) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
  };
  const maxA = nice(Math.max(1, ...samples.map((s) => s.allocsPerSec)) * 1.1);
  const maxB = nice(Math.max(1, ...samples.map((s) => s.bytes)) * 1.1);
  g.font = '11px system-ui, sans-serif';
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + ph - (ph * i) / 4;
    g.strokeStyle = '#e4e7ec';
    g.beginPath();
    g.moveTo(pad.l, Math.round(y) + 0.5);
    g.lineTo(pad.l + pw, Math.round(y) + 0.5);
    g.stroke();
    g.fillStyle = css.getPropertyValue('--a');
    g.textAlign = 'right';
    g.fillText(fmt((maxA * i) / 4), pad.l - 8, y + 4);
    g.fillStyle = css.getPropertyValue('--b');
    g.textAlign = 'left';
    g.fillText(fmtBytes((maxB * i) / 4), pad.l + pw + 8, y + 4);
  }
  // The time axis spans the samples so far (at least 10 s), up to the 60-s window.
  const span = Math.min(WINDOW, Math.max(samples.length, 10_000 / SAMPLE_MS));
  const seconds = (span * SAMPLE_MS) / 1000;
  const step = seconds > 30 ? 10 : seconds > 12 ? 5 : 2;
  g.fillStyle = '#667085';
  g.textAlign = 'center';
  for (let s = 0; s <= seconds; s += step) g.fillText(s === 0 ? 'now' : `-${s}s`, pad.l + pw - (pw * s) / seconds, h - 4);
  const line = (key, max, color) => {
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    samples.forEach((s, i) => {
      const x = pad.l + pw - ((samples.length - 1 - i) * pw) / (span - 1);
      const y = pad.t + ph - (Math.min(s[key], max) / max) * ph;
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    });
    g.stroke();
  };
  line('bytes', maxB, css.getPropertyValue('--b'));
  line('allocsPerSec', maxA, css.getPropertyValue('--a'));
}

setInterval(() => {
  const s = sample();
  renderTables(s);
  renderChart();
  $('status').textContent = `${rt.sharedMemory ? 'shared' : 'unshared'} Wasm memory · ${settings.paused ? 'paused' : 'running'} · ${fmt(bound[0].sent + bound[1].sent)} frames sent`;
}, SAMPLE_MS);

window.dashboard = {
  settings,
  samples,
  /** The newest sample without its rows (for tests and the console). */
  latest: () => {
    const s = samples.at(-1);
    return s && { t: s.t, allocs: s.allocs, bytes: s.bytes, received: s.received, allocsPerSec: s.allocsPerSec, framesPerSec: s.framesPerSec, tags: s.rows.map((r) => r.tag), adapters: s.counters };
  },
  /** Sets controls as if moved by hand: `{ rate, size, burst, dpc }`. */
  set(values) {
    for (const [k, v] of Object.entries(values)) {
      const [input] = controls[k];
      input.value = String(v);
      input.dispatchEvent(new Event('input'));
    }
  },
};
