// The vNIC hub across workers (issue 10): two hubs, each in its own worker (or its own attached
// instance in one thread), joined by an uplink of two SharedRings; frames sent on one reach the
// adapters of the other, byte for byte, and every frame buffer comes back to the shared pool.
import { describe, it, expect } from 'vitest';
import { Worker } from 'node:worker_threads';
import { createRuntimeSync, attachRuntime } from '../build/ts/runtime.js';
import { NdisBugCheck } from '../build/ts/errors.js';
// @ts-expect-error: a plain .mjs helper shared with the worker script
import { makeStation } from './workers/vnic-station.mjs';

const MiB = 1 << 20;

function world(capacity = 1024) {
  const a = createRuntimeSync({ shared: true, maxMemory: 64 * MiB });
  const b = attachRuntime(a.share());
  const ab = a.createSharedRing({ capacity, producers: 'single', consumers: 'single' })!;
  const ba = a.createSharedRing({ capacity, producers: 'single', consumers: 'single' })!;
  const frames = a.createSlabPool({ objectSize: 1514, tag: 'Frm ' })!;
  const hubA = a.createHub('A')!;
  const hubB = b.createHub('B')!;
  hubA.connectUplink(ab, ba, frames);
  hubB.connectUplink(b.openSharedRing(ba.handle), b.openSharedRing(ab.handle), b.openSlabPool(frames.handle)!);
  const sa = makeStation(a, 1, hubA);
  const sb = makeStation(b, 2, hubB);
  return { a, b, ab, ba, frames, hubA, hubB, sa, sb };
}

describe('hub uplink between attached instances', () => {
  it("frames sent on one hub reach the other hub's adapter byte for byte, both ways", () => {
    const w = world();
    w.sa.send([0, 1, 2, 3, 4], 60);
    w.sa.send([5, 6, 7], 1514);
    w.sa.send([8], 700);
    w.a.runDpcs();
    expect(w.sa.completed).toBe(9); // the uplink stores and forwards: sends complete at once
    expect(w.sb.received).toEqual([]);
    expect(w.ab.count).toBe(9);
    w.b.runDpcs();
    expect(w.sb.received.map((r: { seq: number }) => r.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(w.sb.received.map((r: { len: number }) => r.len)).toEqual([60, 60, 60, 60, 60, 1514, 1514, 1514, 700]);
    expect(w.sb.bad).toBe(0);
    expect(w.sa.received).toEqual([]); // a hub never hears its own frames back
    // And back.
    w.sb.send([100, 101], 200);
    w.b.runDpcs();
    w.a.runDpcs();
    expect(w.sa.received.map((r: { seq: number; from: number }) => [r.from, r.seq])).toEqual([[2, 100], [2, 101]]);
    expect(w.hubA.uplinkCounters()).toEqual({ sent: 9, received: 2, dropped: 0 });
    expect(w.hubB.uplinkCounters()).toEqual({ sent: 2, received: 9, dropped: 0 });
    // Every frame buffer went back to the pool (freed by the receiving worker).
    expect(w.frames.stats()).toMatchObject({ allocs: 11, frees: 11, outstanding: 0 });
  });

  it('a full tx ring drops frames and counts them; nothing leaks', () => {
    const w = world(8);
    w.sa.send(Array.from({ length: 20 }, (_, i) => i), 100);
    w.a.runDpcs();
    expect(w.hubA.uplinkCounters()).toEqual({ sent: 8, received: 0, dropped: 12 });
    expect(w.sa.completed).toBe(20);
    w.b.runDpcs();
    expect(w.sb.received.map((r: { seq: number }) => r.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // A dropped frame's buffer was taken and given back at once.
    expect(w.frames.stats()).toMatchObject({ outstanding: 0, allocs: 20, frees: 20 });
  });

  it('disconnect drains undelivered frames back to the pool; misuse is a bug check', () => {
    const w = world();
    w.sa.send([1, 2, 3], 64);
    w.a.runDpcs();
    expect(w.frames.stats().outstanding).toBe(3);
    expect(w.hubB.disconnectUplink()).toBe(3);
    expect(w.frames.stats().outstanding).toBe(0);
    expect(w.hubB.disconnectUplink()).toBe(0);
    const small = w.b.createSlabPool({ objectSize: 100 })!;
    const bug = (f: () => unknown, arg: string) => {
      try { f(); } catch (e) { expect(e).toBeInstanceOf(NdisBugCheck); expect((e as NdisBugCheck).argument).toBe(arg); return; }
      throw new Error('expected a bug check');
    };
    const ring = w.b.openSharedRing(w.ab.handle);
    bug(() => w.hubB.connectUplink(ring, ring, small), 'frames');
    bug(() => w.hubB.connectUplink(ring, {} as never, small), 'rx');
    bug(() => w.hubA.connectUplink(w.ab, w.ba, w.frames), undefined as never);
    // A hub with an uplink is destroyed after its adapters: the uplink goes with it.
    w.sa.close();
    w.hubA.destroy();
    w.sb.close();
    w.hubB.destroy();
    expect(w.frames.stats().outstanding).toBe(0);
  });
});

describe('hub uplink between worker_threads', () => {
  it('two workers, one adapter each: 5000 frames each way, in order, byte for byte', async () => {
    const a = createRuntimeSync({ shared: true, maxMemory: 128 * MiB });
    const ab = a.createSharedRing({ capacity: 1024, producers: 'single', consumers: 'single' })!;
    const ba = a.createSharedRing({ capacity: 1024, producers: 'single', consumers: 'single' })!;
    const frames = a.createSlabPool({ objectSize: 1514, tag: 'Frm ' })!;
    const N = 5000;
    const spawn = (id: number, tx: number, rx: number) => new Worker(new URL('./workers/vnic-peer.mjs', import.meta.url), {
      workerData: { d: a.share(), id, tx, rx, pool: frames.handle, frames: N, expect: N, len: 128 + id },
    });
    const ws = [spawn(1, ab.handle, ba.handle), spawn(2, ba.handle, ab.handle)];
    const next = (w: Worker) => new Promise<unknown>((res, rej) => { w.once('message', res); w.once('error', rej); });
    await Promise.all(ws.map(next)); // ready
    const results = ws.map(next);
    for (const w of ws) w.postMessage('go');
    const rs = (await Promise.all(results)) as { id: number; received: number; bad: number; inOrder: boolean; completed: number; uplink: { sent: number; received: number; dropped: number }; lens: number[] }[];
    for (const r of rs) {
      expect(r).toMatchObject({ received: N, bad: 0, inOrder: true, completed: N, uplink: { sent: N, received: N, dropped: 0 } });
      expect(r.lens).toEqual([128 + (3 - r.id)]);
    }
    const closed = ws.map(next);
    for (const w of ws) w.postMessage('close');
    await Promise.all(closed);
    expect(frames.stats()).toMatchObject({ allocs: 2 * N, frees: 2 * N, outstanding: 0 });
  }, 60_000);
});
