/**
 * Area "pkt": NDIS 5 packet pools, packets, buffer pools and buffers (NdisAllocatePacketPool(Ex),
 * NdisFreePacketPool, NdisAllocatePacket and the Dpr forms, NdisFreePacket…, NdisReinitializePacket,
 * NdisAllocate/FreeBufferPool, NdisAllocateBuffer, NdisFreeBuffer, NdisChain/UnchainBufferAtFront/
 * AtBack, NdisQueryPacket, NdisQueryBuffer, NdisGetNextBuffer, NdisBufferLength, the packet
 * accessors, NdisPacketPoolUsage, packetPoolInfo, NdisPacketSize, NdisSetPacketPoolProtocolId).
 *
 * Model objects:
 *   pktPool {num, limit, prl, pid, key, count, overflowInUse}
 *   packet  {pool, head, tail, valid, cached, flags, status, hdr, overflow, seed}
 *   bufPool {}
 * Buffers are `mdl` objects (sub 'buf') of area mem; `pkt` is the packet they were chained to
 * (the side word chainedTo() reads), `next` their link.
 */
import { PTR_RULES, ST, TAG, hex } from './core.mjs';
import { addMdl, mdlPoolKey, chainedTo, pickRange } from './area-mem.mjs';

const POOL_DESC = 128;
const PKT_RULES = ['PKT-1'];

/** NdisPacketSize: Private + reserved union + ProtocolReserved, 8-aligned, then OOB (32) and extension (48). */
export function packetSize(prl) {
  const total = Math.ceil((0x38 + prl) / 8) * 8 + 32 + 48;
  return total > 0xfff00000 ? 0 : total;
}

const oobOff = (prl) => Math.ceil((0x38 + prl) / 8) * 8;

/** The buffers of a packet's chain (head → tail by Next). */
function chainOf(fz, p) {
  const out = [];
  for (let a = p.head, n = 0; a && n < 100000; n++) {
    const m = fz.live.get(a);
    if (!m) throw new Error(`model: ${p.name}'s chain reaches a dead buffer ${hex(a)}`);
    out.push(m);
    if (a === p.tail) break;
    a = m.next;
  }
  return out;
}

/** What chainable() checks for a buffer chain starting at `b` about to go on a packet. */
function chainableRules(fz, b) {
  const seen = new Set();
  const mdls = [];
  for (let a = b; ; ) {
    const m = fz.live.get(a);
    if (!m || m.kind !== 'mdl') return { rules: PTR_RULES, why: 'dead buffer in chain', mdls };
    if (chainedTo(fz, m)) return { rules: ['PKT-2'], why: 'buffer already on a packet', mdls };
    seen.add(a);
    mdls.push(m);
    if (m.next === 0) break;
    if (seen.has(m.next)) return { rules: ['NB-CONS'], why: 'buffer chain loops', mdls };
    a = m.next;
  }
  return { rules: null, why: '', mdls };
}

function pages(m) {
  return m.len === 0 ? 1 : Math.floor(((m.va & 0xfff) + m.len + 0xfff) / 4096);
}

export const pktArea = {
  name: 'pkt',

  foreign(fz, rt2) {
    const s = { value: 0 };
    const pool = { value: 0 };
    rt2.NdisAllocatePacketPool(s, pool, 8, 16);
    fz.foreign.push({ kind: 'pktPool', v: pool.value });
    const p = { value: 0 };
    rt2.NdisAllocatePacket(s, p, pool.value);
    fz.foreign.push({ kind: 'packet', v: p.value });
    const bp = { value: 0 };
    rt2.NdisAllocateBufferPool(s, bp, 8);
    fz.foreign.push({ kind: 'bufPool', v: bp.value });
  },

  ops: [
    {
      name: 'pkt.createPool', w: 2,
      run(fz, r) {
        const rt = fz.rt;
        if (fz.all('pktPool').length >= 4 && r.chance(0.8)) return;
        const ex = r.chance(0.5);
        const num = r.weighted([[6, () => r.range(0, 12)], [1, () => r.range(13, 300)], [0.3, () => r.pick([0x10000, 0xffffffff])], [fz.small ? 0.5 : 0, () => 0xffff]])();
        const ovf = ex ? r.weighted([[4, () => r.range(0, 8)], [0.3, () => r.pick([0xffff, 0xffffffff])]])() : 0;
        const prl = r.weighted([[6, () => r.pick([0, 4, 16, 24, 40])], [1, () => r.range(0, 300)], [0.2, () => r.pick([65472, 65473, 0xffffffff])]])();
        const status = { value: 1 };
        const box = { value: 1 };
        const fn = ex ? 'NdisAllocatePacketPoolEx' : 'NdisAllocatePacketPool';
        const args = ex ? [status, box, num, ovf, prl] : [status, box, num, prl];
        if (r.chance(0.1)) {
          const i = r.int(args.length);
          args[i] = i < 2 ? r.pick([undefined, null, 5, {}]) : fz.badNumber(r);
          fz.bad(fz.call(fn, args), ['PARAM'], () => rt[fn](...args), [], 'bad argument');
          return;
        }
        const size = packetSize(prl);
        // Too much for the budget: the result is exhaustion (or a 0xFFFF-descriptor pool).
        if (!fz.small && num <= 0xffff && size * num > 8 << 20) return;
        fz.ok(fz.call(fn, args), () => rt[fn](...args));
        const refused = num > 0xffff || prl > 65472;
        if (refused) {
          fz.eq(`${fn} status`, status.value, ST.RESOURCES);
          fz.eq(`${fn} handle`, box.value, 0);
          return;
        }
        if (status.value === ST.RESOURCES) {
          fz.eq(`${fn} handle on RESOURCES`, box.value, 0);
          return fz.allocFailed(fn);
        }
        fz.eq(`${fn} status`, status.value, ST.SUCCESS);
        const key = fz.counters.newPool(TAG.PACKET, 'Packet', size);
        const p = fz.add({ kind: 'pktPool', addr: box.value, size: POOL_DESC, num, limit: Math.min(0xffff, num + ovf), prl, pid: 0, key, count: 0, overflowInUse: 0, psize: size });
        pktArea.verifyPool(fz, p, 'fresh');
      },
    },
    {
      name: 'pkt.freePool', w: 1,
      run(fz, r) {
        const rt = fz.rt;
        const p = fz.any(r, 'pktPool');
        const v = r.int(6);
        if (p && p.count > 0 && v < 3) {
          fz.bad(fz.call('NdisFreePacketPool', [p.addr]), ['PKT-4'], () => rt.NdisFreePacketPool(p.addr), [p], 'pool with packets');
          return;
        }
        if (!p || v === 3) {
          const { v: x, how } = r.chance(0.85) ? fz.badPtr(r, ['pktPool']) : { v: fz.badNumber(r), how: 'non-u32' };
          fz.bad(fz.call('NdisFreePacketPool', [x]), how === 'non-u32' ? ['PARAM'] : PTR_RULES, () => rt.NdisFreePacketPool(x), [], how);
          return;
        }
        if (p.count > 0) return;
        pktArea.freePool(fz, p);
      },
    },
    {
      name: 'pkt.poolInfo', w: 1,
      run(fz, r) {
        const rt = fz.rt;
        const p = fz.any(r, 'pktPool');
        const v = r.int(6);
        if (!p || v === 0) {
          const fn = r.pick(['NdisPacketPoolUsage', 'packetPoolInfo', 'NdisSetPacketPoolProtocolId']);
          const { v: x, how } = fz.badPtr(r, ['pktPool']);
          fz.bad(fz.call(fn, [x, 1]), PTR_RULES, () => rt[fn](x, 1), [], how);
          return;
        }
        if (v === 1) {
          const id = r.pick([16, 255, -1, NaN, 1.5]);
          fz.bad(fz.call('NdisSetPacketPoolProtocolId', [p.addr, id]), ['PARAM'], () => rt.NdisSetPacketPoolProtocolId(p.addr, id), [p], 'bad protocol id');
          return;
        }
        if (v === 2) {
          const id = r.int(16);
          fz.ok(fz.call('NdisSetPacketPoolProtocolId', [p.addr, id]), () => rt.NdisSetPacketPoolProtocolId(p.addr, id));
          p.pid = id;
          return;
        }
        if (v === 3) {
          const len = r.weighted([[4, () => r.int(300)], [1, () => r.u32()]])();
          const bad = r.chance(0.2);
          const x = bad ? fz.badNumber(r) : len;
          if (bad) fz.bad(fz.call('NdisPacketSize', [x]), ['PARAM'], () => rt.NdisPacketSize(x), [], 'non-u32');
          else fz.eq(`NdisPacketSize(${len})`, fz.ok(fz.call('NdisPacketSize', [len]), () => rt.NdisPacketSize(len)), packetSize(len));
          return;
        }
        pktArea.verifyPool(fz, p, 'info');
      },
    },
    {
      name: 'pkt.alloc', w: 5,
      run(fz, r) {
        const rt = fz.rt;
        const p = fz.any(r, 'pktPool');
        const fn = r.pick(['NdisAllocatePacket', 'NdisDprAllocatePacket', 'NdisDprAllocatePacketNonInterlocked']);
        const status = { value: 1 };
        const box = { value: 1 };
        const v = r.int(12);
        // The Dpr forms run at DISPATCH_LEVEL (verifier mode checks it: IRQL-DPR).
        const call = (...a) => (fn === 'NdisAllocatePacket' ? rt[fn](...a) : fz.atDispatch(() => rt[fn](...a)));
        if (fz.cfg.verifier && fn !== 'NdisAllocatePacket' && p && v === 2) {
          fz.bad(fz.call(fn, ['status', 'packet', p.addr]) + ' at PASSIVE_LEVEL', ['IRQL-DPR'], () => rt[fn](status, box, p.addr), [p], 'Dpr call at PASSIVE_LEVEL');
          return;
        }
        if (!p || v === 0) {
          const { v: x, how } = fz.badPtr(r, ['pktPool']);
          fz.bad(fz.call(fn, ['status', 'packet', x]), PTR_RULES, () => call(status, box, x), [], how);
          return;
        }
        if (v === 1) {
          const args = [status, box, p.addr];
          const i = r.int(3);
          args[i] = i < 2 ? r.pick([undefined, null, 3, {}]) : fz.badNumber(r);
          fz.bad(fz.call(fn, args), ['PARAM'], () => call(...args), [p], 'bad argument');
          return;
        }
        fz.ok(fz.call(fn, ['status', 'packet', p.addr]), () => call(status, box, p.addr));
        if (p.count >= p.limit) {
          fz.eq(`${fn} status at the pool's limit`, status.value, ST.RESOURCES);
          fz.eq(`${fn} packet at the pool's limit`, box.value, 0);
          fz.counters.fail(p.key);
          return;
        }
        if (status.value !== ST.SUCCESS) {
          fz.eq(`${fn} status`, status.value, ST.RESOURCES);
          fz.eq(`${fn} packet on RESOURCES`, box.value, 0);
          return fz.allocFailed(fn);
        }
        const overflow = p.count - p.overflowInUse >= p.num;
        p.count++;
        if (overflow) p.overflowInUse++;
        fz.counters.alloc(p.key);
        const k = fz.add({
          kind: 'packet', addr: box.value, size: p.psize, pool: p, head: 0, tail: 0, valid: false, cached: null,
          flags: p.pid & 0xf, status: 0, hdr: 0, overflow, seed: fz.nextId * 31337,
          refs() { return [this.head, this.tail]; },
        });
        pktArea.fresh(fz, k);
      },
    },
    {
      name: 'pkt.free', w: 4,
      run(fz, r) {
        const rt = fz.rt;
        const fn = r.pick(['NdisFreePacket', 'NdisDprFreePacket', 'NdisDprFreePacketNonInterlocked']);
        const k = fz.any(r, 'packet');
        const v = r.int(8);
        const call = (x) => (fn === 'NdisFreePacket' ? rt[fn](x) : fz.atDispatch(() => rt[fn](x)));
        if (!k || v === 0) {
          const { v: x, how } = r.chance(0.85) ? fz.badPtr(r, ['packet']) : { v: fz.badNumber(r), how: 'non-u32' };
          fz.bad(fz.call(fn, [x]), how === 'non-u32' ? ['PARAM'] : PKT_RULES, () => call(x), [], how);
          return;
        }
        if (fz.cfg.verifier && fn !== 'NdisFreePacket' && v === 2) {
          fz.bad(fz.call(fn, [k.addr]) + ' at PASSIVE_LEVEL', ['IRQL-DPR'], () => rt[fn](k.addr), [k], 'Dpr call at PASSIVE_LEVEL');
          return;
        }
        if (v === 1) return pktArea.corrupt(fz, r, k);
        pktArea.freePacket(fz, k, fn);
      },
    },
    {
      name: 'pkt.bufferPool', w: 1,
      run(fz, r) {
        const rt = fz.rt;
        const v = r.int(6);
        const bp = fz.any(r, 'bufPool');
        if (v <= 2 || !bp) {
          const status = { value: 1 };
          const box = { value: 1 };
          const num = r.range(0, 100);
          if (r.chance(0.15)) {
            const args = [status, box, num];
            const i = r.int(3);
            args[i] = i < 2 ? r.pick([undefined, 4]) : fz.badNumber(r);
            fz.bad(fz.call('NdisAllocateBufferPool', args), ['PARAM'], () => rt.NdisAllocateBufferPool(...args), [], 'bad argument');
            return;
          }
          fz.ok(fz.call('NdisAllocateBufferPool', ['status', 'pool', num]), () => rt.NdisAllocateBufferPool(status, box, num));
          if (status.value !== ST.SUCCESS) {
            fz.eq('NdisAllocateBufferPool status', status.value, ST.RESOURCES);
            return fz.allocFailed('NdisAllocateBufferPool');
          }
          fz.add({ kind: 'bufPool', addr: box.value, size: 16 });
          return;
        }
        if (v === 3) {
          const { v: x, how } = fz.badPtr(r, ['bufPool']);
          fz.bad(fz.call('NdisFreeBufferPool', [x]), PTR_RULES, () => rt.NdisFreeBufferPool(x), [], how);
          return;
        }
        // Buffers outlive their pool (descriptor counts are not enforced: decision 17).
        fz.ok(fz.call('NdisFreeBufferPool', [bp.addr]), () => rt.NdisFreeBufferPool(bp.addr));
        fz.remove(bp);
      },
    },
    {
      name: 'pkt.allocBuffer', w: 4,
      run(fz, r) {
        const rt = fz.rt;
        const bp = r.chance(0.3) ? null : fz.any(r, 'bufPool');
        const h = bp ? bp.addr : 0;
        const rg = pickRange(fz, r);
        const status = { value: 1 };
        const box = { value: 1 };
        const v = r.int(12);
        if (!rg) return;
        if (v === 0) {
          const { v: x, how } = fz.badPtr(r, ['bufPool'], { noNull: true });
          fz.bad(fz.call('NdisAllocateBuffer', ['status', 'buffer', x, rg.va, rg.len]), PTR_RULES, () => rt.NdisAllocateBuffer(status, box, x, rg.va, rg.len), [], how);
          return;
        }
        if (v === 1) {
          const len = rg.block.addr + rg.block.len - rg.va + r.range(1, 16);
          fz.bad(fz.call('NdisAllocateBuffer', ['status', 'buffer', h, rg.va, len]), ['PARAM'], () => rt.NdisAllocateBuffer(status, box, h, rg.va, len), [], 'range past the block');
          return;
        }
        if (v === 2) {
          const args = [status, box, h, rg.va, rg.len];
          const i = r.int(5);
          args[i] = i < 2 ? r.pick([undefined, 1]) : fz.badNumber(r);
          fz.bad(fz.call('NdisAllocateBuffer', args), ['PARAM'], () => rt.NdisAllocateBuffer(...args), [], 'bad argument');
          return;
        }
        fz.ok(fz.call('NdisAllocateBuffer', ['status', 'buffer', h, rg.va, rg.len]), () => rt.NdisAllocateBuffer(status, box, h, rg.va, rg.len));
        if (status.value !== ST.SUCCESS) {
          fz.eq('NdisAllocateBuffer status', status.value, ST.FAILURE);
          fz.eq('NdisAllocateBuffer buffer on FAILURE', box.value, 0);
          return fz.allocFailed('NdisAllocateBuffer');
        }
        fz.counters.alloc(mdlPoolKey(fz));
        const m = addMdl(fz, box.value, 'buf', rg.va, rg.len);
        fz.verify(m, 'fresh buffer');
      },
    },
    {
      name: 'pkt.chain', w: 6,
      run(fz, r) {
        const rt = fz.rt;
        const k = fz.any(r, 'packet');
        const front = r.chance(0.5);
        const fn = front ? 'NdisChainBufferAtFront' : 'NdisChainBufferAtBack';
        const v = r.int(10);
        if (!k) return;
        if (v === 0) {
          const { v: x, how } = r.chance(0.85) ? fz.badPtr(r, ['packet']) : { v: fz.badNumber(r), how: 'non-u32' };
          const b = fz.any(r, 'mdl', (m) => m.sub === 'buf')?.addr ?? 0;
          fz.bad(fz.call(fn, [x, b]), how === 'non-u32' ? ['PARAM'] : PKT_RULES, () => rt[fn](x, b), [], how);
          return;
        }
        if (v === 1) {
          const { v: x, how } = r.chance(0.85) ? fz.badPtr(r, ['mdl']) : { v: fz.badNumber(r), how: 'non-u32' };
          fz.bad(fz.call(fn, [k.addr, x]), how === 'non-u32' ? ['PARAM'] : PTR_RULES, () => rt[fn](k.addr, x), [k], how);
          return;
        }
        // A buffer (with whatever it is still linked to), chained or not yet.
        const b = fz.any(r, 'mdl', (m) => m.sub === 'buf' && (v === 2 || !chainedTo(fz, m)));
        if (!b) return;
        const c = chainableRules(fz, b.addr);
        const label = fz.call(fn, [k.addr, b.addr]);
        if (c.rules) {
          fz.bad(label, c.rules, () => rt[fn](k.addr, b.addr), [k, ...c.mdls], c.why);
          return;
        }
        fz.ok(label, () => rt[fn](k.addr, b.addr));
        const tail = c.mdls[c.mdls.length - 1];
        if (front) {
          if (k.head === 0) k.tail = tail.addr;
          tail.next = k.head;
          k.head = b.addr;
        } else {
          const old = k.tail ? fz.live.get(k.tail) : null;
          if (old) old.next = b.addr;
          else k.head = b.addr;
          k.tail = tail.addr;
          tail.next = 0;
        }
        k.valid = false;
        for (const m of c.mdls) m.pkt = k.addr;
        pktArea.verifyPacket(fz, k, `after ${label}`);
      },
    },
    {
      name: 'pkt.unchain', w: 4,
      run(fz, r) {
        const rt = fz.rt;
        const k = fz.any(r, 'packet');
        const front = r.chance(0.5);
        const fn = front ? 'NdisUnchainBufferAtFront' : 'NdisUnchainBufferAtBack';
        const box = { value: 1 };
        if (!k || r.chance(0.08)) {
          const { v: x, how } = fz.badPtr(r, ['packet']);
          fz.bad(fz.call(fn, [x, 'box']), PKT_RULES, () => rt[fn](x, box), [], how);
          return;
        }
        if (r.chance(0.05)) {
          const b = r.pick([undefined, null, 7]);
          fz.bad(fz.call(fn, [k.addr, b]), ['PARAM'], () => rt[fn](k.addr, b), [k], 'no out box');
          return;
        }
        fz.ok(fz.call(fn, [k.addr, 'box']), () => rt[fn](k.addr, box));
        const chain = chainOf(fz, k);
        if (!chain.length) {
          fz.eq(`${fn} on an empty packet`, box.value, 0);
        } else if (front) {
          const b = chain[0];
          fz.eq(`${fn} buffer`, box.value, b.addr);
          k.head = b.next;
          if (k.head === 0) k.tail = 0;
          b.next = 0;
          b.pkt = 0;
        } else {
          const b = chain[chain.length - 1];
          fz.eq(`${fn} buffer`, box.value, b.addr);
          if (chain.length === 1) {
            k.head = 0;
            k.tail = 0;
          } else {
            chain[chain.length - 2].next = 0;
            k.tail = chain[chain.length - 2].addr;
          }
          b.next = 0;
          b.pkt = 0;
        }
        if (chain.length) k.valid = false; // an empty packet is left as it is
        pktArea.verifyPacket(fz, k, `after ${fn}`);
      },
    },
    {
      name: 'pkt.query', w: 4,
      run(fz, r) {
        const rt = fz.rt;
        const k = fz.any(r, 'packet');
        const v = r.int(14);
        if (!k) return;
        if (v === 0) {
          const boxes = [undefined, undefined, undefined, undefined];
          boxes[r.int(4)] = r.pick([5, 'x', true]);
          fz.bad(fz.call('NdisQueryPacket', [k.addr, ...boxes]), ['PARAM'], () => rt.NdisQueryPacket(k.addr, ...boxes), [k], 'bad out box');
          return;
        }
        if (v === 1) {
          const b = fz.any(r, 'mdl', (m) => m.sub === 'buf' || m.sub === 'caller');
          if (!b) return;
          const [fn, args] = r.pick([['NdisQueryBuffer', [b.addr, { value: 0 }, 5]], ['NdisQueryBuffer', [b.addr, 7, { value: 0 }]], ['NdisGetNextBuffer', [b.addr, null]]]);
          fz.bad(fz.call(fn, args), ['PARAM'], () => rt[fn](...args), [b], 'bad out box');
          return;
        }
        if (v === 2) {
          const fn = r.pick(['NdisQueryBuffer', 'NdisGetNextBuffer', 'NdisBufferLength']);
          const { v: x, how } = fz.badPtr(r, ['mdl']);
          fz.bad(fz.call(fn, [x, { value: 0 }, { value: 0 }]), PTR_RULES, () => rt[fn](x, { value: 0 }, { value: 0 }), [], how);
          return;
        }
        if (v === 3) {
          const b = fz.any(r, 'mdl', (m) => m.sub === 'buf');
          if (!b) return;
          const va = { value: -1 };
          const len = { value: -1 };
          const nx = { value: -1 };
          fz.ok(fz.call('NdisQueryBuffer', [b.addr, 'va', 'len']), () => rt.NdisQueryBuffer(b.addr, r.chance(0.2) ? undefined : va, len));
          if (va.value !== -1) fz.eq(`NdisQueryBuffer(${b.name}) VirtualAddress`, va.value, b.va);
          fz.eq(`NdisQueryBuffer(${b.name}) Length`, len.value, b.len);
          fz.ok(fz.call('NdisGetNextBuffer', [b.addr, 'next']), () => rt.NdisGetNextBuffer(b.addr, nx));
          fz.eq(`NdisGetNextBuffer(${b.name})`, nx.value, b.next);
          fz.eq(`NdisBufferLength(${b.name})`, rt.NdisBufferLength(b.addr), b.len);
          return;
        }
        if (v === 4) {
          const fn = r.pick(['NdisQueryPacket', 'NDIS_GET_PACKET_STATUS', 'NDIS_GET_PACKET_HEADER_SIZE', 'NdisGetPacketFlags', 'NDIS_PACKET_PROTOCOL_RESERVED',
            'NDIS_PACKET_MINIPORT_RESERVED', 'NdisGetPoolFromPacket', 'NdisReinitializePacket', 'NDIS_SET_PACKET_STATUS', 'NDIS_SET_PACKET_HEADER_SIZE', 'NdisSetPacketFlags']);
          const { v: x, how } = r.chance(0.85) ? fz.badPtr(r, ['packet']) : { v: fz.badNumber(r), how: 'non-u32' };
          fz.bad(fz.call(fn, [x, 0]), how === 'non-u32' ? ['PARAM'] : PKT_RULES, () => rt[fn](x, 0), [], how);
          return;
        }
        if (v === 5) {
          fz.ok(fz.call('NdisReinitializePacket', [k.addr]), () => rt.NdisReinitializePacket(k.addr));
          k.head = 0;
          k.tail = 0;
          k.valid = false;
          pktArea.verifyPacket(fz, k, 'after NdisReinitializePacket');
          return;
        }
        if (v === 6) {
          const s = r.pick([0, 0x103, ST.RESOURCES, r.u32(), -5]);
          fz.ok(fz.call('NDIS_SET_PACKET_STATUS', [k.addr, s]), () => rt.NDIS_SET_PACKET_STATUS(k.addr, s));
          k.status = s | 0;
          return;
        }
        if (v === 7) {
          const x = r.u32();
          fz.ok(fz.call('NDIS_SET_PACKET_HEADER_SIZE', [k.addr, x]), () => rt.NDIS_SET_PACKET_HEADER_SIZE(k.addr, x));
          k.hdr = x;
          return;
        }
        if (v === 8) {
          const x = (r.u32() & r.u32()) >>> 0;
          fz.ok(fz.call('NdisSetPacketFlags', [k.addr, x]), () => rt.NdisSetPacketFlags(k.addr, x));
          k.flags = (k.flags | x) >>> 0;
          return;
        }
        if (v === 9) {
          const [fn, x] = r.pick([['NDIS_SET_PACKET_STATUS', r.pick([2 ** 32, -0x80000001, NaN, 1.5])], ['NDIS_SET_PACKET_HEADER_SIZE', fz.badNumber(r)], ['NdisSetPacketFlags', fz.badNumber(r)]]);
          fz.bad(fz.call(fn, [k.addr, x]), ['PARAM'], () => rt[fn](k.addr, x), [k], 'non-u32');
          return;
        }
        pktArea.verifyPacket(fz, k, 'query');
      },
    },
  ],

  fresh(fz, k) {
    const prl = k.pool.prl;
    fz.checkZero(k.addr + 0x20, 16, `${k.name} MiniportReserved (fresh)`);
    fz.checkZero(k.addr + 0x38, Math.min(prl, 512), `${k.name} ProtocolReserved (fresh)`);
    fz.fillPattern(k.addr + 0x20, 16, k.seed);
    fz.fillPattern(k.addr + 0x38, Math.min(prl, 512), k.seed + 1);
    pktArea.verifyPacket(fz, k, 'fresh');
  },

  /** PKT-1: a driver overwrote Private.Pool; every packet call refuses the packet until it is restored. */
  corrupt(fz, r, k) {
    const rt = fz.rt;
    const u32 = new Uint32Array(rt.memory.buffer, k.addr + 0x10, 1);
    const bogus = r.pick([0, k.addr, (k.pool.addr + 8) >>> 0, 0xdeadbee8]);
    fz.log(`(driver writes Private.Pool of ${k.name} = ${hex(bogus)})`);
    u32[0] = bogus;
    const fn = r.pick(['NdisFreePacket', 'NdisQueryPacket', 'NdisReinitializePacket', 'NdisChainBufferAtBack', 'NDIS_GET_PACKET_STATUS', 'NdisGetPoolFromPacket']);
    const b = fz.any(r, 'mdl', (m) => m.sub === 'buf' && !chainedTo(fz, m))?.addr ?? 0;
    fz.bad(fz.call(fn, [k.addr, b]), ['PKT-1'], () => rt[fn](k.addr, b, undefined, undefined, { value: 0 }), [], 'Private.Pool overwritten');
    new Uint32Array(rt.memory.buffer, k.addr + 0x10, 1)[0] = k.pool.addr;
    fz.log(`(driver restores Private.Pool of ${k.name})`);
    pktArea.verifyPacket(fz, k, 'after Private.Pool was restored');
  },

  freePacket(fz, k, fn = 'NdisFreePacket') {
    pktArea.verifyPacket(fz, k, 'before free');
    fz.ok(fz.call(fn, [k.addr]), () => (fn === 'NdisFreePacket' ? fz.rt[fn](k.addr) : fz.atDispatch(() => fz.rt[fn](k.addr))));
    const p = k.pool;
    p.count--;
    if (k.overflow) p.overflowInUse--;
    fz.counters.free(p.key);
    fz.remove(k);
  },

  freePool(fz, p) {
    fz.ok(fz.call('NdisFreePacketPool', [p.addr]), () => fz.rt.NdisFreePacketPool(p.addr));
    fz.retire(p.key);
    fz.remove(p);
  },

  verify(fz, o, when) {
    if (o.kind === 'packet') return pktArea.verifyPacket(fz, o, when), true;
    if (o.kind === 'pktPool') return pktArea.verifyPool(fz, o, when), true;
    return o.kind === 'bufPool';
  },

  verifyPool(fz, p, when) {
    const rt = fz.rt;
    const w = `${p.name} (${when})`;
    fz.eq(`NdisPacketPoolUsage(${w})`, rt.NdisPacketPoolUsage(p.addr), p.count);
    const info = rt.packetPoolInfo(p.addr);
    fz.eq(`packetPoolInfo(${w}).usage`, info.usage, p.count);
    fz.eq(`packetPoolInfo(${w}).overflowInUse`, info.overflowInUse, p.overflowInUse);
    fz.eq(`packetPoolInfo(${w}).staticInUse`, info.staticInUse, p.count - p.overflowInUse);
    fz.eq(`packetPoolInfo(${w}).limit`, info.limit, p.limit);
  },

  verifyPacket(fz, k, when) {
    const rt = fz.rt;
    const w = `${k.name} (${when})`;
    const u8 = rt.bytes(k.addr, 0x20);
    const dv = new DataView(u8.buffer, u8.byteOffset, 0x20);
    fz.eq(`${w} Private.Head`, dv.getUint32(0x08, true), k.head);
    fz.eq(`${w} Private.Tail`, dv.getUint32(0x0c, true), k.tail);
    fz.eq(`${w} Private.Pool`, dv.getUint32(0x10, true), k.pool.addr);
    fz.eq(`${w} Private.ValidCounts`, u8[0x1c], k.valid ? 1 : 0);
    fz.eq(`${w} Private.NdisPacketFlags`, u8[0x1d], 0x80);
    fz.eq(`${w} Private.NdisPacketOobOffset`, dv.getUint16(0x1e, true), oobOff(k.pool.prl));
    fz.eq(`NdisGetPoolFromPacket(${w})`, rt.NdisGetPoolFromPacket(k.addr), k.pool.addr);
    fz.eq(`NdisGetPacketFlags(${w})`, rt.NdisGetPacketFlags(k.addr), k.flags);
    fz.eq(`NDIS_GET_PACKET_STATUS(${w})`, rt.NDIS_GET_PACKET_STATUS(k.addr), k.status);
    fz.eq(`NDIS_GET_PACKET_HEADER_SIZE(${w})`, rt.NDIS_GET_PACKET_HEADER_SIZE(k.addr), k.hdr);
    fz.eq(`NDIS_PACKET_PROTOCOL_RESERVED(${w})`, rt.NDIS_PACKET_PROTOCOL_RESERVED(k.addr), k.addr + 0x38);
    fz.eq(`NDIS_PACKET_MINIPORT_RESERVED(${w})`, rt.NDIS_PACKET_MINIPORT_RESERVED(k.addr), k.addr + 0x20);
    fz.checkPattern(k.addr + 0x20, 16, k.seed, `${w} MiniportReserved`);
    fz.checkPattern(k.addr + 0x38, Math.min(k.pool.prl, 512), k.seed + 1, `${w} ProtocolReserved`);
    // NdisQueryPacket: recounts when ValidCounts is FALSE, then caches.
    const chain = chainOf(fz, k);
    if (!k.valid) {
      k.cached = { phys: chain.reduce((s, m) => s + pages(m), 0), count: chain.length, total: chain.reduce((s, m) => s + m.len, 0) >>> 0 };
    }
    const pc = { value: -1 };
    const bc = { value: -1 };
    const fb = { value: -1 };
    const tl = { value: -1 };
    rt.NdisQueryPacket(k.addr, pc, bc, fb, tl);
    k.valid = true;
    fz.eq(`NdisQueryPacket(${w}) PhysicalBufferCount`, pc.value, k.cached.phys);
    fz.eq(`NdisQueryPacket(${w}) BufferCount`, bc.value, k.cached.count);
    fz.eq(`NdisQueryPacket(${w}) FirstBuffer`, fb.value, k.head);
    fz.eq(`NdisQueryPacket(${w}) TotalPacketLength`, tl.value, k.cached.total);
    for (const m of chain) fz.eq(`${m.name} on ${k.name}: NdisGetNextBuffer`, (() => { const b = { value: -1 }; rt.NdisGetNextBuffer(m.addr, b); return b.value; })(), m.next);
  },

  check(fz, r) {
    const k = fz.randomLive(r, (x) => x.kind === 'packet');
    if (k) pktArea.verifyPacket(fz, k, 'sample');
  },

  deep(fz, report) {
    for (const p of fz.all('pktPool')) {
      const row = report.get(p.addr);
      if (!row) throw fz.fail(`memoryReport has no pool ${p.name}`);
      fz.eq(`memoryReport live of ${p.name}`, row.live, p.count);
    }
  },

  teardown(fz) {
    const rt = fz.rt;
    for (const k of fz.all('packet')) {
      // Unchain every buffer (so the buffers can be freed), then free the packet.
      if (k.head) k.valid = false;
      while (k.head) {
        const box = { value: 0 };
        fz.ok(fz.call('NdisUnchainBufferAtFront', [k.addr, 'box']), () => rt.NdisUnchainBufferAtFront(k.addr, box));
        const b = fz.live.get(box.value);
        k.head = b.next;
        if (!k.head) k.tail = 0;
        b.next = 0;
        b.pkt = 0;
      }
      pktArea.freePacket(fz, k);
    }
    for (const p of fz.all('pktPool')) pktArea.freePool(fz, p);
    for (const bp of fz.all('bufPool')) {
      fz.ok(fz.call('NdisFreeBufferPool', [bp.addr]), () => rt.NdisFreeBufferPool(bp.addr));
      fz.remove(bp);
    }
  },
};
