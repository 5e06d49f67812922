/**
 * Model test of NDIS 5 packet pools and buffer chains (NDIS-SPEC §3, §8; DESIGN decisions 15-17):
 * random sequences of NdisAllocatePacket, NdisAllocateBuffer, NdisChainBufferAtFront / AtBack (of
 * one buffer, whatever it is still linked to, or of a fresh 2-buffer chain), NdisUnchainBufferAtFront
 * / AtBack, NdisQueryPacket (any subset of its out boxes), NdisReinitializePacket, NdisFreeBuffer
 * and NdisFreePacket on one NdisAllocatePacketPoolEx pool of random NumberOfDescriptors,
 * NumberOfOverflowDescriptors and ProtocolReservedLength, run against a plain-TS reference model.
 *
 * The model keeps each live packet's Head, Tail, ValidCounts and cached counts, each live
 * buffer's VA, length and Next link (by address, so buffers left linked by NdisReinitializePacket
 * or NdisFreePacket, and reused MDL slots, behave as in memory), and the static / overflow usage.
 * It predicts: NDIS_STATUS_RESOURCES with Packet NULL exactly when the pool's limit is reached;
 * PKT-2 exactly when the buffer freed, or one on the chain being chained, is on a live packet's
 * chain; ALT-MDL when a chain runs into a freed buffer. After every step, every live packet's
 * chain (NdisQueryPacket FirstBuffer + NdisGetNextBuffer), Head/Tail/ValidCounts, every live
 * buffer's Next/VA/length, NdisPacketPoolUsage, packetPoolInfo and poolmon are the model's; a
 * rejected call changes none of them.
 *
 * Two properties run the same commands: the first checks everything but the static / overflow
 * split of the usage, the second checks that split (overflow descriptors are used only while
 * every static one is in use; DESIGN decision 16).
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createRuntimeSync, type NdisRuntime } from '../build/ts/runtime.js';
import { NdisBugCheck } from '../build/ts/errors.js';
import { POOL_TAG, NDIS_STATUS_SUCCESS, NDIS_STATUS_RESOURCES, NormalPoolPriority } from '../build/ts/ndis/constants.js';
import { NDIS_PACKET_LAYOUT as PK, MDL_LAYOUT } from '../build/ts/index.js';
import { type LooseRt, loose } from './helpers.js';

const MEM_LEN = 0x3000;

// -- commands -------------------------------------------------------------------------------------

type Cmd =
  | { t: 'alloc' }
  | { t: 'buf'; offF: number; lenF: number; big: boolean }
  | { t: 'chain'; front: boolean; i: number; j: number; pair: boolean; k: number }
  | { t: 'unchain'; front: boolean; i: number }
  | { t: 'query'; i: number; mask: number }
  | { t: 'reinit'; i: number }
  | { t: 'freeBuf'; j: number }
  | { t: 'freePkt'; i: number };

const frac = fc.integer({ min: 0, max: 1000 }).map((x) => x / 1000);

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ t: 'alloc' as const }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('buf' as const), offF: frac, lenF: frac, big: fc.boolean() }) },
  {
    weight: 6,
    arbitrary: fc.record({ t: fc.constant('chain' as const), front: fc.boolean(), i: fc.nat(), j: fc.nat(), pair: fc.boolean(), k: fc.nat() }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('unchain' as const), front: fc.boolean(), i: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('query' as const), i: fc.nat(), mask: fc.integer({ min: 0, max: 15 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('reinit' as const), i: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('freeBuf' as const), j: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('freePkt' as const), i: fc.nat() }) },
);

interface Config { num: number; overflow: number; len: number }
const configArb: fc.Arbitrary<Config> = fc.record({
  num: fc.integer({ min: 0, max: 4 }),
  overflow: fc.integer({ min: 0, max: 4 }),
  len: fc.integer({ min: 0, max: 40 }),
});

// -- the reference model ------------------------------------------------------------------------------

interface MPacket { p: number; head: number; tail: number; valid: boolean; phys: number; count: number; total: number; overflow: boolean }
interface MBuf { va: number; len: number; next: number }

const span = (va: number, len: number) => (len === 0 ? 1 : Math.floor(((va & 0xfff) + len + 0xfff) / 4096));

interface Box { value: number }
const box = (v = 0x5a5a5a5a): Box => ({ value: v });

class Run {
  rt: NdisRuntime;
  r: LooseRt;
  h: number;
  mem: number;
  cfg: Config;
  limit: number;
  packets: MPacket[] = [];
  bufs = new Map<number, MBuf>();
  staticInUse = 0;
  overflowInUse = 0;
  /** Counters of what the run exercised (for the coverage check). */
  seen = { resources: 0, pkt2Free: 0, pkt2Chain: 0, altMdl: 0, overflow: 0, orphanWalk: 0, query: 0 };

  constructor(cfg: Config, readonly checkSplit: boolean) {
    this.cfg = cfg;
    this.rt = createRuntimeSync();
    this.r = loose(this.rt);
    const g = this.r.NdisAllocateGenericObject(0, POOL_TAG('Gen '), 0);
    this.mem = this.r.NdisAllocateMemoryWithTagPriority(g, MEM_LEN, POOL_TAG('Buf '), NormalPoolPriority);
    const s = box(), h = box();
    this.r.NdisAllocatePacketPoolEx(s, h, cfg.num, cfg.overflow, cfg.len);
    expect(s.value).toBe(NDIS_STATUS_SUCCESS);
    this.h = h.value;
    this.limit = Math.min(0xffff, cfg.num + cfg.overflow);
  }

  get usage() {
    return this.staticInUse + this.overflowInUse;
  }

  /** The live packet whose chain holds buffer `b`, or 0. */
  owner(b: number): number {
    for (const m of this.packets) if (this.walk(m.head).includes(b)) return m.p;
    return 0;
  }

  /** The buffers from `b` along the Next links (a live packet's chain: ends at 0). */
  walk(b: number): number[] {
    const out: number[] = [];
    for (let m = b; m !== 0; m = this.bufs.get(m)?.next ?? 0) {
      if (out.includes(m)) throw new Error(`model: loop at 0x${m.toString(16)}`);
      out.push(m);
      if (!this.bufs.has(m)) break; // a freed buffer ends the walk (the caller sees ALT-MDL)
    }
    return out;
  }

  /** Observable state that a rejected call must leave alone. */
  observe() {
    return {
      poolmon: this.rt.poolmon(),
      info: this.r.packetPoolInfo(this.h),
      raw: this.packets.map((m) => Array.from(this.rt.bytes(m.p, 0x20))),
      links: [...this.bufs.keys()].map((b) => this.u32(b + MDL_LAYOUT.Next)),
    };
  }

  u32(a: number) {
    return new DataView(this.rt.memory.buffer).getUint32(a, true);
  }

  /** `f` must throw an NdisBugCheck of `rule` (one of `rules`) and change nothing observable. */
  rejects(f: () => unknown, rules: string[], check?: (e: NdisBugCheck) => void): void {
    const before = this.observe();
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(err, `expected a bug check ${rules.join('/')}`).toBeInstanceOf(NdisBugCheck);
    const b = err as NdisBugCheck;
    expect(rules, b.message).toContain(b.rule);
    check?.(b);
    expect(this.observe()).toEqual(before);
  }

  step(c: Cmd): void {
    const r = this.r;
    const pkt = (i: number) => this.packets[i % this.packets.length]!;
    const bufList = () => [...this.bufs.keys()];
    switch (c.t) {
      case 'alloc': {
        const s = box(), p = box();
        const fnName = (['NdisAllocatePacket', 'NdisDprAllocatePacket', 'NdisDprAllocatePacketNonInterlocked'] as const)[this.usage % 3]!;
        r[fnName](s, p, this.h);
        if (this.usage === this.limit) {
          expect([s.value, p.value]).toEqual([NDIS_STATUS_RESOURCES, 0]);
          this.seen.resources++;
          return;
        }
        expect(s.value).toBe(NDIS_STATUS_SUCCESS);
        expect(p.value).toBeGreaterThanOrEqual(65536);
        expect(this.packets.some((m) => m.p === p.value)).toBe(false);
        const overflow = this.staticInUse >= this.cfg.num;
        if (overflow) {
          this.overflowInUse++;
          this.seen.overflow++;
        } else {
          this.staticInUse++;
        }
        this.packets.push({ p: p.value, head: 0, tail: 0, valid: false, phys: 0, count: 0, total: 0, overflow });
        return;
      }
      case 'buf': {
        const off = Math.min(MEM_LEN - 1, Math.floor(c.offF * MEM_LEN));
        const room = MEM_LEN - off;
        const len = Math.floor(c.lenF * (c.big ? room : Math.min(room, 64)));
        const s = box(), b = box();
        r.NdisAllocateBuffer(s, b, 0, this.mem + off, len);
        expect(s.value).toBe(NDIS_STATUS_SUCCESS);
        expect(this.bufs.has(b.value)).toBe(false);
        this.bufs.set(b.value, { va: this.mem + off, len, next: 0 });
        return;
      }
      case 'chain': {
        if (this.packets.length === 0 || this.bufs.size === 0) return;
        const m = pkt(c.i);
        const list = bufList();
        let b = list[c.j % list.length]!;
        const fn = c.front ? 'NdisChainBufferAtFront' : 'NdisChainBufferAtBack';
        if (c.pair) {
          // A fresh 2-buffer chain: two buffers on no chain and linked to nothing.
          const clean = list.filter((x) => this.bufs.get(x)!.next === 0 && this.owner(x) === 0);
          if (clean.length < 2) return;
          b = clean[c.j % clean.length]!;
          const k = clean.filter((x) => x !== b)[c.k % (clean.length - 1)]!;
          r.NDIS_MDL_LINKAGE_SET(b, k);
          this.bufs.get(b)!.next = k;
        }
        const seg = this.walk(b);
        if (seg.length > 1 && !c.pair) this.seen.orphanWalk++;
        // The first buffer of the chain that is freed (ALT-MDL) or on a live packet (PKT-2) stops it.
        for (const x of seg) {
          if (!this.bufs.has(x)) {
            this.seen.altMdl++;
            this.rejects(() => r[fn](m.p, b), ['ALT-MDL', 'ORIGIN'], (e) => {
              expect(e.function).toBe(fn);
              expect(e.argument).toBe('Buffer');
            });
            return;
          }
          const q = this.owner(x);
          if (q !== 0) {
            this.seen.pkt2Chain++;
            this.rejects(() => r[fn](m.p, b), ['PKT-2'], (e) => {
              expect(e.function).toBe(fn);
              expect(e.parameters.slice(1, 3)).toEqual([x, q]);
            });
            return;
          }
        }
        r[fn](m.p, b);
        const segTail = seg[seg.length - 1]!;
        if (c.front) {
          if (m.head === 0) m.tail = segTail;
          this.bufs.get(segTail)!.next = m.head;
          m.head = b;
        } else {
          if (m.tail !== 0) this.bufs.get(m.tail)!.next = b;
          else m.head = b;
          m.tail = segTail;
          this.bufs.get(segTail)!.next = 0;
        }
        m.valid = false;
        return;
      }
      case 'unchain': {
        if (this.packets.length === 0) return;
        const m = pkt(c.i);
        const out = box();
        if (c.front) r.NdisUnchainBufferAtFront(m.p, out);
        else r.NdisUnchainBufferAtBack(m.p, out);
        const b = c.front ? m.head : m.tail;
        expect(out.value).toBe(b);
        if (b === 0) return;
        if (c.front) {
          m.head = this.bufs.get(b)!.next;
          if (m.head === 0) m.tail = 0;
        } else if (m.head === b) {
          m.head = m.tail = 0;
        } else {
          const chain = this.walk(m.head);
          const prev = chain[chain.indexOf(b) - 1]!;
          this.bufs.get(prev)!.next = 0;
          m.tail = prev;
        }
        this.bufs.get(b)!.next = 0;
        m.valid = false;
        return;
      }
      case 'query': {
        if (this.packets.length === 0) return;
        const m = pkt(c.i);
        const boxes = [0, 1, 2, 3].map((bit) => ((c.mask >> bit) & 1 ? box() : undefined));
        r.NdisQueryPacket(m.p, boxes[0], boxes[1], boxes[2], boxes[3]);
        if ((boxes[0] || boxes[1] || boxes[3]) && !m.valid) {
          const chain = this.walk(m.head);
          m.phys = chain.reduce((a, x) => a + span(this.bufs.get(x)!.va, this.bufs.get(x)!.len), 0);
          m.count = chain.length;
          m.total = chain.reduce((a, x) => a + this.bufs.get(x)!.len, 0);
          m.valid = true;
          this.seen.query++;
        }
        const want = [m.phys, m.count, m.head, m.total];
        boxes.forEach((bx, k) => {
          if (bx) expect(bx.value, ['PhysicalBufferCount', 'BufferCount', 'FirstBuffer', 'TotalPacketLength'][k]).toBe(want[k]);
        });
        return;
      }
      case 'reinit': {
        if (this.packets.length === 0) return;
        const m = pkt(c.i);
        r.NdisReinitializePacket(m.p);
        m.head = m.tail = 0;
        m.valid = false;
        return;
      }
      case 'freeBuf': {
        if (this.bufs.size === 0) return;
        const list = bufList();
        const b = list[c.j % list.length]!;
        const q = this.owner(b);
        if (q !== 0) {
          this.seen.pkt2Free++;
          this.rejects(() => r.NdisFreeBuffer(b), ['PKT-2'], (e) => expect(e.parameters.slice(1, 3)).toEqual([b, q]));
          return;
        }
        r.NdisFreeBuffer(b);
        this.bufs.delete(b);
        return;
      }
      case 'freePkt': {
        if (this.packets.length === 0) return;
        const idx = c.i % this.packets.length;
        const m = this.packets[idx]!;
        const fnName = (['NdisFreePacket', 'NdisDprFreePacket', 'NdisDprFreePacketNonInterlocked'] as const)[idx % 3]!;
        r[fnName](m.p);
        if (m.overflow) this.overflowInUse--;
        else this.staticInUse--;
        this.packets.splice(idx, 1);
        return;
      }
    }
  }

  /** Everything observable agrees with the model. */
  check(): void {
    const r = this.r;
    const info = r.packetPoolInfo(this.h);
    expect(info.usage).toBe(this.usage);
    expect(info.limit).toBe(this.limit);
    expect(info.staticInUse + info.overflowInUse).toBe(this.usage);
    if (this.checkSplit) expect([info.staticInUse, info.overflowInUse], 'static / overflow in use').toEqual([this.staticInUse, this.overflowInUse]);
    expect(r.NdisPacketPoolUsage(this.h)).toBe(this.usage);
    const rows = this.rt.poolmon();
    expect(rows.find((q) => q.type === 'Packet')?.outstanding ?? 0).toBe(this.usage);
    expect(rows.find((q) => q.type === 'MDL')?.outstanding ?? 0).toBe(this.bufs.size);
    for (const m of this.packets) {
      expect([this.u32(m.p + PK.Head), this.u32(m.p + PK.Tail)], 'Head / Tail').toEqual([m.head, m.tail]);
      expect(this.rt.bytes(m.p + PK.ValidCounts, 1)[0], 'ValidCounts').toBe(m.valid ? 1 : 0);
      expect(r.NdisGetPoolFromPacket(m.p)).toBe(this.h);
      const fb = box();
      r.NdisQueryPacket(m.p, undefined, undefined, fb, undefined);
      const chain: number[] = [];
      for (let b = fb.value; b !== 0 && chain.length <= this.bufs.size; ) {
        chain.push(b);
        const n = box();
        r.NdisGetNextBuffer(b, n);
        b = n.value;
      }
      expect(chain, 'chain').toEqual(this.walk(m.head));
    }
    for (const [b, mb] of this.bufs) {
      expect(this.u32(b + MDL_LAYOUT.Next), 'Next').toBe(mb.next);
      const va = box(), len = box();
      r.NdisQueryBuffer(b, va, len);
      expect([va.value, len.value]).toEqual([mb.va, mb.len]);
    }
  }

  /** Unchains and frees everything; the pool frees. */
  teardown(): void {
    const r = this.r;
    for (const m of this.packets) {
      r.NdisReinitializePacket(m.p);
      r.NdisFreePacket(m.p);
    }
    for (const b of this.bufs.keys()) r.NdisFreeBuffer(b);
    r.NdisFreePacketPool(this.h);
    const rows = this.rt.poolmon();
    expect(rows.find((q) => q.type === 'Packet')?.outstanding ?? 0).toBe(0);
    expect(rows.find((q) => q.type === 'MDL')?.outstanding ?? 0).toBe(0);
  }
}

const totals = { resources: 0, pkt2Free: 0, pkt2Chain: 0, altMdl: 0, overflow: 0, orphanWalk: 0, query: 0 };

function property(checkSplit: boolean) {
  return fc.property(configArb, fc.array(cmdArb, { minLength: 1, maxLength: 80, size: 'max' }), (cfg, cmds) => {
    const run = new Run(cfg, checkSplit);
    for (const c of cmds) {
      run.step(c);
      run.check();
    }
    run.teardown();
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += run.seen[k];
  });
}

describe('packet pool model', () => {
  it('usage, RESOURCES exactly at the limit, chains, queries and PKT-2 follow the model', () => {
    fc.assert(property(false), { numRuns: 250 });
    // The runs reached the cases that matter (a chain running into a freed buffer, ALT-MDL, is
    // rarer: a handful of times per 250 runs, so it is not required here).
    const { altMdl: _rare, ...required } = totals;
    for (const [k, v] of Object.entries(required)) expect(v, k).toBeGreaterThan(0);
  });

  it('static / overflow split: overflow descriptors only while every static one is in use', () => {
    fc.assert(property(true), { numRuns: 250 });
  });
});
