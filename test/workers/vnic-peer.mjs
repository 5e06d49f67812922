// Worker of test/workers-vnic.test.ts: one station on this worker's hub, connected to the other
// worker's hub through two SharedRings. Sends `frames` numbered frames (when `send`), runs its
// DPCs until it has received `expect` frames, then reports what it saw.
import { workerData, parentPort } from 'node:worker_threads';
import { attachRuntime } from '../../build/ts/index.js';
import { makeStation } from './vnic-station.mjs';

const { d, id, tx, rx, pool, frames, expect, len } = workerData;
const rt = attachRuntime(d);
const hub = rt.createHub(`hub${id}`);
const txRing = rt.openSharedRing(tx);
hub.connectUplink(txRing, rt.openSharedRing(rx), rt.openSlabPool(pool));
const st = makeStation(rt, id, hub);
parentPort.postMessage('ready');
await new Promise((res) => parentPort.once('message', res));
let seq = 0;
const deadline = Date.now() + 20_000;
while ((seq < frames || st.received.length < expect) && Date.now() < deadline) {
  // Send a burst when the peer has room for it (the uplink drops frames it has no room for).
  if (seq < frames && txRing.free >= 64) {
    const burst = [];
    for (let k = 0; k < 32 && seq < frames; k++) burst.push(seq++);
    st.send(burst, len);
  }
  rt.runDpcs();
  if (seq >= frames) await new Promise((res) => setImmediate(res));
}
const byOrder = st.received.every((r, i) => r.seq === i && r.from !== id);
const result = { id, received: st.received.length, bad: st.bad, inOrder: byOrder, completed: st.completed, uplink: hub.uplinkCounters(), lens: [...new Set(st.received.map((r) => r.len))] };
parentPort.postMessage(result);
await new Promise((res) => parentPort.once('message', res)); // both done: tear down
st.close();
hub.disconnectUplink();
hub.destroy();
rt.detach();
parentPort.postMessage('closed');
