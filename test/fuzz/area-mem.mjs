/**
 * Area "mem": protocol driver handles (as pool owners), generic objects, tagged memory
 * (NdisAllocate/FreeMemoryWithTagPriority) and MDLs (NdisAllocateMdl, NdisFreeMdl, the MDL
 * accessors and NDIS_MDL_LINKAGE_SET).
 *
 * Model objects:
 *   prot  {owned}                         a protocol handle (its pools count in `owned`)
 *   gen   {tag, sz, drvObj, owned, seed}  a generic object; its caller bytes hold a pattern
 *   mem   {len, tag, role, seed}          role 'data' (MDLs may describe it; data-space calls
 *                                         write it) or 'sent' (a sentinel pattern, never written)
 *   mdl   {sub, va, len, next, pkt}       every MDL: sub 'caller' (NdisAllocateMdl), 'buf'
 *                                         (NdisAllocateBuffer), 'rdef' / 'rhnd' (a retreat's,
 *                                         default allocator / handler), 'emb' (inside an NB)
 *   rtbuf {len}                           a retreat's default buffer (overlap only)
 */
import { TAG, ST, PTR_RULES, CB, Counters, hex } from './core.mjs';
import { chainChanged } from './area-nb.mjs';

const noop = () => { CB.n++; };
const ok0 = () => { CB.n++; return 0; };
/** Every kind of handle NDIS accepts as the NdisHandle of a pool, memory or MDL allocation. */
export const OWNER_KINDS = ['prot', 'gen', 'dprot', 'miniport', 'adapter', 'binding'];
const POOL_PRIORITIES = [0, 8, 9, 16, 24, 25, 32, 40, 41];
const TAGS = [0x30307a46, 0x31317a46, 0x6d656d46, 0x41424344]; // 'Fz00', 'Fz11', 'Fmem', 'DCBA'

export function protocolChars(name, over = {}) {
  return {
    Header: { Type: 0x95, Revision: 1, Size: 64 },
    MajorNdisVersion: 6,
    MinorNdisVersion: 30,
    Name: name,
    BindAdapterHandlerEx: ok0,
    UnbindAdapterHandlerEx: ok0,
    OpenAdapterCompleteHandlerEx: noop,
    CloseAdapterCompleteHandlerEx: noop,
    NetPnPEventHandler: noop,
    OidRequestCompleteHandler: noop,
    StatusHandlerEx: noop,
    ReceiveNetBufferListsHandler: noop,
    SendNetBufferListsCompleteHandler: noop,
    ...over,
  };
}

/** A live owner handle (protocol handle, generic object or driver handle), or 0 (NULL). */
export function pickOwner(fz, r, allowNull) {
  const owners = fz.all('prot').concat(fz.all('gen'));
  if (allowNull && (owners.length === 0 || r.chance(0.3))) return null;
  if (owners.length === 0) return undefined;
  return r.pick(owners);
}

/** A live block MDLs may describe, with a range inside it (or null). */
export function pickRange(fz, r, minLen = 0) {
  const blocks = fz.all('mem', (m) => m.role === 'data' && m.len > 0 && m.len >= minLen);
  if (!blocks.length) return null;
  const b = r.pick(blocks);
  const off = minLen ? r.int(b.len - minLen + 1) : r.int(b.len);
  const len = minLen ? minLen + r.small(b.len - off - minLen) : r.small(b.len - off);
  return { block: b, va: b.addr + off, len };
}

/** True when [va, va + len) may lie inside one live allocation (conservative). */
export function insideObject(fz, va, len) {
  for (const o of fz.live.values()) {
    if (o.size > 0 && va >= o.addr && va < o.addr + o.size + 8 && va + len <= o.addr + o.size + 8) return true;
  }
  return false;
}

/** Adds an MDL to the model. */
export function addMdl(fz, addr, sub, va, len, extra = {}) {
  return fz.add({
    kind: 'mdl', addr, size: sub === 'emb' ? 0 : 28, sub, va, len, next: 0, pkt: 0, ...extra,
    refs() { return [this.next]; },
  });
}

/** Memory a retreat's default allocator took (NdRt): the model of the counters. */
export function addRtBuf(fz, va, len) {
  fz.counters.memAlloc(TAG.RETREAT, 'Memory', len);
  return fz.add({ kind: 'rtbuf', addr: va, size: Math.max(1, len), len });
}

export function freeRtBuf(fz, buf) {
  fz.counters.memFree(TAG.RETREAT, 'Memory', buf.len);
  fz.remove(buf);
}

/** The root MDL pool ('Mdl ') in the counter model. */
export function mdlPoolKey(fz) {
  if (!fz.mdlKey) fz.mdlKey = fz.counters.newPool(TAG.MDL, 'MDL', 28);
  return fz.mdlKey;
}

/** The live packet `m` is chained to (chainedTo of assembly/embedded.ts), or null. */
export function chainedTo(fz, m) {
  if (m.sub === 'emb' || !m.pkt) return null;
  const p = fz.live.get(m.pkt);
  if (!p || p.kind !== 'packet') return null;
  for (let a = p.head, n = 0; a && n < 10000; n++) {
    if (a === m.addr) return p;
    const x = fz.live.get(a);
    if (!x || x.kind !== 'mdl') return null;
    a = x.next;
  }
  return null;
}

/**
 * Verifier mode: releasing handle `h` while MDLs (NdisAllocateMdl) or memory blocks allocated
 * with it are live is LEAK-MDL / LEAK-MEM. Returns the rules, or null.
 */
export function leakRules(fz, h) {
  if (!fz.cfg.verifier) return null;
  for (const o of fz.live.values()) if ((o.kind === 'mem' || o.kind === 'mdl') && o.ownerH === h) return ['LEAK-MDL', 'LEAK-MEM'];
  return null;
}

/**
 * The rules releasing a bad handle `h` raises. Known bug (report): in verifier mode the leak
 * check runs before the handle is validated: releasing a handle of the wrong kind (a generic
 * object to NdisDeregisterProtocolDriver) that has MDLs or memory is LEAK-MDL / LEAK-MEM, not
 * ORIGIN, and since NdisAllocateBuffer MDLs are recorded with owner 0, so is releasing NULL;
 * with knownBugs off that is accepted.
 */
function releaseRules(fz, h) {
  if (fz.cfg.verifier && fz.cfg.knownBugs === false && (h === 0 || leakRules(fz, h))) return PTR_RULES.concat(['LEAK-MDL', 'LEAK-MEM']);
  return PTR_RULES;
}

/** Ops that need a u32 argument: replace it with a non-number, expect PARAM. */
function badArg(fz, r, label, args, i, fn, rules = ['PARAM'], targets = []) {
  const a = args.slice();
  a[i] = fz.badNumber(r);
  fz.bad(fz.call(label, a), rules, () => fn(...a), targets, 'non-u32');
}

export const memArea = {
  name: 'mem',

  init(fz) {
    fz.protNames = 0;
    mdlPoolKey(fz); // the runtime's MDL pool exists from the start
  },

  foreign(fz, rt2) {
    const box = { value: 0 };
    rt2.NdisRegisterProtocolDriver(0, protocolChars('Foreign'), box);
    fz.foreign.push({ kind: 'prot', v: box.value });
    const g = rt2.NdisAllocateGenericObject(0, 0x67726f46, 32);
    fz.foreign.push({ kind: 'gen', v: g });
    const m = rt2.NdisAllocateMemoryWithTagPriority(box.value, 256, 0x67726f46, 16);
    fz.foreign.push({ kind: 'mem', v: m });
    fz.foreign.push({ kind: 'mdl', v: rt2.NdisAllocateMdl(box.value, m, 64) });
  },

  ops: [
    {
      // runtime.reset(): everything is gone; every old handle, object and JS wrapper is stale.
      name: 'mem.reset', w: 0.04,
      run(fz, r) {
        const rt = fz.rt;
        if (r.chance(0.5)) return;
        fz.ok('runtime.reset()', () => rt.reset());
        for (const o of [...fz.live.values()]) {
          if (o.kind === 'slabPool') {
            o.pool.handle0 = o.addr;
            fz.deadSlabPools?.push(o.pool);
          } else if (o.kind === 'ring') fz.deadRings?.push(o.ring);
          else if (o.kind === 'adapter' && o.A) (fz.deadAdapters ??= []).push(o.A);
          fz.remove(o);
        }
        fz.counters = new Counters();
        fz.mdlKey = 0;
        mdlPoolKey(fz);
        fz.pnpPending = 0;
        fz.pnpProts = [];
        if (fz.drvCtx) {
          fz.drvCtx.byCtx.clear();
          fz.drvCtx.serial = 0; // a fresh driver model numbers adapters from 1 again
        }
        fz.eq('poolmon rows after runtime.reset()', rt.poolmon().length, 0);
        fz.eq('runtime.adapters() after runtime.reset()', rt.adapters().length, 0);
      },
    },
    {
      name: 'mem.registerProtocol', w: 2,
      run(fz, r) {
        const rt = fz.rt;
        const box = { value: 0xdead };
        const name = `FzProt${++fz.protNames}`;
        const v = r.int(10);
        if (v === 0 || fz.all('prot').length >= 6) {
          // Characteristics NDIS refuses: a status, not a bug check; no handle.
          const [chars, want] = r.pick([
            [protocolChars(name, { Header: { Type: 0x80, Revision: 1, Size: 64 } }), ST.BAD_CHARACTERISTICS],
            [protocolChars(name, { Header: { Type: 0x95, Revision: 1, Size: 60 } }), ST.BAD_CHARACTERISTICS],
            [protocolChars(name, { Header: { Type: 0x95, Revision: 3, Size: 64 } }), ST.BAD_CHARACTERISTICS],
            [protocolChars(name, { Name: '' }), ST.BAD_CHARACTERISTICS],
            [protocolChars(name, { ReceiveNetBufferListsHandler: undefined }), ST.BAD_CHARACTERISTICS],
            [protocolChars(name, { StatusHandlerEx: 5 }), ST.BAD_CHARACTERISTICS],
            [protocolChars(name, { MajorNdisVersion: 5 }), ST.BAD_VERSION],
            [protocolChars(name, { MinorNdisVersion: 2 }), ST.BAD_VERSION],
          ]);
          const s = fz.ok(fz.call('NdisRegisterProtocolDriver', [0, chars, 'box']), () => rt.NdisRegisterProtocolDriver(0, chars, box));
          fz.eq('NdisRegisterProtocolDriver status', s, want);
          fz.eq('NdisRegisterProtocolDriver handle box', box.value, 0);
          return;
        }
        if (v === 1) {
          const [args, defect] = r.pick([
            [[NaN, protocolChars(name), box], 'non-u32'],
            [[-1, protocolChars(name), box], 'non-u32'],
            [[0, null, box], 'non-object'],
            [[0, 42, box], 'non-object'],
            [[0, protocolChars(name), {}], 'no out box'],
            [[0, protocolChars(name), undefined], 'no out box'],
          ]);
          fz.bad(fz.call('NdisRegisterProtocolDriver', args), ['PARAM'], () => rt.NdisRegisterProtocolDriver(...args), [], defect);
          return;
        }
        const ctx = r.u32();
        const s = fz.ok(fz.call('NdisRegisterProtocolDriver', [ctx, name, 'box']), () => rt.NdisRegisterProtocolDriver(ctx, protocolChars(name), box));
        if (s === ST.RESOURCES) {
          fz.allocFailed('NdisRegisterProtocolDriver');
          fz.eq('handle box after RESOURCES', box.value, 0);
          return;
        }
        fz.eq('NdisRegisterProtocolDriver status', s, ST.SUCCESS);
        fz.add({ kind: 'prot', addr: box.value, size: 4, align: 8, owned: 0, protName: name });
        fz.pnpPending = (fz.pnpPending ?? 0) + 1; // NDIS binds it to running adapters later
      },
    },
    {
      name: 'mem.deregisterProtocol', w: 1,
      run(fz, r) {
        const rt = fz.rt;
        const p = fz.any(r, 'prot');
        const v = r.int(6);
        const leak = p ? leakRules(fz, p.addr) : null;
        if (p && (p.owned > 0 || leak) && v < 2) {
          fz.bad(fz.call('NdisDeregisterProtocolDriver', [p.addr]), leak ?? ['POOL-6'], () => rt.NdisDeregisterProtocolDriver(p.addr), [p], leak ? 'handle with MDLs or memory' : 'owner with pools');
          return;
        }
        if (!p || v === 2) {
          const drv = fz.any(r, 'adapter') ?? fz.any(r, 'miniport') ?? fz.any(r, 'binding');
          if (drv && r.chance(0.5)) {
            fz.bad(fz.call('NdisDeregisterProtocolDriver', [drv.addr]), ['DRV-2'], () => rt.NdisDeregisterProtocolDriver(drv.addr), [], 'wrong handle type');
            return;
          }
          const { v: h, how } = fz.badPtr(r, ['prot', 'dprot']);
          if (fz.live.get(h) && ['adapter', 'miniport', 'binding'].includes(fz.live.get(h).kind)) return;
          fz.bad(fz.call('NdisDeregisterProtocolDriver', [h]), releaseRules(fz, h), () => rt.NdisDeregisterProtocolDriver(h), [], how);
          return;
        }
        if (v === 3) {
          badArg(fz, r, 'NdisDeregisterProtocolDriver', [p.addr], 0, (x) => rt.NdisDeregisterProtocolDriver(x));
          return;
        }
        if (p.owned > 0 || leak) return;
        fz.ok(fz.call('NdisDeregisterProtocolDriver', [p.addr]), () => rt.NdisDeregisterProtocolDriver(p.addr));
        fz.remove(p);
      },
    },
    {
      name: 'mem.allocGeneric', w: 2,
      run(fz, r) {
        const rt = fz.rt;
        const tag = r.pick(TAGS);
        const sz = r.chance(0.1) ? r.pick([0, 0xffff, 4000]) : r.small(200);
        const drv = r.u32();
        if (r.chance(0.12)) {
          const i = r.int(3);
          const args = [drv, tag, sz];
          args[i] = i === 2 && r.chance(0.5) ? r.pick([0x10000, 0x20000, 0xffffffff]) : fz.badNumber(r);
          fz.bad(fz.call('NdisAllocateGenericObject', args), ['PARAM'], () => rt.NdisAllocateGenericObject(...args), [], 'non-u32');
          return;
        }
        const g = fz.ok(fz.call('NdisAllocateGenericObject', [drv, hex(tag), sz]), () => rt.NdisAllocateGenericObject(drv, tag, sz));
        if (g === 0) return fz.allocFailed('NdisAllocateGenericObject');
        const o = fz.add({ kind: 'gen', addr: g, size: 16 + sz, tag, sz, drvObj: drv, owned: 0, seed: r.u32() });
        fz.counters.memAlloc(tag, 'GenericObject', 16 + sz);
        memArea.verifyGen(fz, o, 'fresh', true);
        fz.fillPattern(g + 16, sz, o.seed);
      },
    },
    {
      name: 'mem.freeGeneric', w: 1,
      run(fz, r) {
        const rt = fz.rt;
        const g = fz.any(r, 'gen');
        const v = r.int(5);
        const leak = g ? leakRules(fz, g.addr) : null;
        if (g && (g.owned > 0 || leak) && v < 3) {
          fz.bad(fz.call('NdisFreeGenericObject', [g.addr]), leak ?? ['POOL-6'], () => rt.NdisFreeGenericObject(g.addr), [g], leak ? 'handle with MDLs or memory' : 'owner with pools');
          return;
        }
        if (!g || v === 3) {
          const { v: x, how } = fz.badPtr(r, ['gen']);
          fz.bad(fz.call('NdisFreeGenericObject', [x]), releaseRules(fz, x), () => rt.NdisFreeGenericObject(x), [], how);
          return;
        }
        if (g.owned > 0 || leak || fz.all('mdl', (m) => m.va >= g.addr && m.va < g.addr + g.size).length) return;
        memArea.verifyGen(fz, g, 'before free');
        fz.ok(fz.call('NdisFreeGenericObject', [g.addr]), () => rt.NdisFreeGenericObject(g.addr));
        fz.counters.memFree(g.tag, 'GenericObject', 16 + g.sz);
        fz.remove(g);
      },
    },
    {
      name: 'mem.allocMemory', w: 4,
      run(fz, r) {
        const rt = fz.rt;
        const owner = pickOwner(fz, r, false);
        const tag = r.pick(TAGS);
        const pri = r.pick(POOL_PRIORITIES);
        let len = r.weighted([[10, () => r.small(2048)], [2, () => r.range(2048, 8192)], [1, () => r.pick([32768, 32769, 40000])], [1, () => r.pick([0xfff00001, 0xffffffff])],
          [fz.small ? 1 : 0, () => r.range(1 << 20, 1 << 24)]])();
        const v = r.int(12);
        if (!owner || v === 0) {
          const { v: h, how } = owner && r.chance(0.5) ? { v: 0, how: 'null' } : fz.badPtr(r, OWNER_KINDS);
          fz.bad(fz.call('NdisAllocateMemoryWithTagPriority', [h, len, tag, pri]), PTR_RULES, () => rt.NdisAllocateMemoryWithTagPriority(h, len, tag, pri), [], how);
          return;
        }
        if (v === 1) {
          const i = r.int(3) + 1;
          const args = [owner.addr, len, tag, pri];
          args[i] = i === 3 && r.chance(0.6) ? r.pick([1, 2, 17, 33, 42, 0x80000000, -16]) : fz.badNumber(r);
          fz.bad(fz.call('NdisAllocateMemoryWithTagPriority', args), ['PARAM'], () => rt.NdisAllocateMemoryWithTagPriority(...args), [], 'non-u32');
          return;
        }
        const p = fz.ok(fz.call('NdisAllocateMemoryWithTagPriority', [owner.addr, len, hex(tag), pri]), () => rt.NdisAllocateMemoryWithTagPriority(owner.addr, len, tag, pri));
        if (len > 0xfff00000) return fz.eq('NdisAllocateMemoryWithTagPriority of more than the address space', p, 0);
        if (p === 0) return fz.allocFailed(`NdisAllocateMemoryWithTagPriority(${len})`);
        const role = len <= 8192 && r.chance(0.65) ? 'data' : 'sent';
        const o = fz.add({ kind: 'mem', addr: p, size: Math.max(1, len), len, tag, role, seed: r.u32(), ownerH: owner.addr });
        fz.counters.memAlloc(tag, 'Memory', len);
        if (role === 'sent') fz.fillPattern(p, Math.min(len, 4096), o.seed);
        else if (len <= 8192) fz.rt.bytes(p, len).fill(0xa5);
      },
    },
    {
      name: 'mem.freeMemory', w: 3,
      run(fz, r) {
        const rt = fz.rt;
        const m = fz.any(r, 'mem');
        const owner = pickOwner(fz, r, false);
        const v = r.int(10);
        if (m && owner && v === 0) {
          const wrong = r.pick(TAGS.concat([0, 0xffffffff]).filter((t) => t !== m.tag));
          fz.bad(fz.call('NdisFreeMemoryWithTagPriority', [owner.addr, m.addr, wrong]), ['TAG'], () => rt.NdisFreeMemoryWithTagPriority(owner.addr, m.addr, wrong), [m], 'wrong tag');
          return;
        }
        if (m && v === 1) {
          const { v: h, how } = fz.badPtr(r, OWNER_KINDS);
          fz.bad(fz.call('NdisFreeMemoryWithTagPriority', [h, m.addr, m.tag]), PTR_RULES, () => rt.NdisFreeMemoryWithTagPriority(h, m.addr, m.tag), [m], how);
          return;
        }
        if (owner && (!m || v === 2)) {
          const { v: a, how } = fz.badPtr(r, ['mem']);
          const tag = r.pick(TAGS);
          // A freed block's slot may hold another tag's block now: any rule about the pointer.
          fz.bad(fz.call('NdisFreeMemoryWithTagPriority', [owner.addr, a, tag]), PTR_RULES.concat(['TAG']), () => rt.NdisFreeMemoryWithTagPriority(owner.addr, a, tag), [], how);
          return;
        }
        if (m && owner && v === 3) {
          badArg(fz, r, 'NdisFreeMemoryWithTagPriority', [owner.addr, m.addr, m.tag], r.int(3), (...a) => rt.NdisFreeMemoryWithTagPriority(...a), ['PARAM'], [m]);
          return;
        }
        if (!m || !owner) return;
        // Memory an MDL still describes stays (the MDL would dangle).
        if (fz.all('mdl', (x) => x.sub !== 'emb' && x.sub !== 'rdef' && x.va >= m.addr && x.va < m.addr + m.size).length) return;
        memArea.verifyMem(fz, m, 'before free');
        fz.ok(fz.call('NdisFreeMemoryWithTagPriority', [owner.addr, m.addr, hex(m.tag)]), () => rt.NdisFreeMemoryWithTagPriority(owner.addr, m.addr, m.tag));
        fz.counters.memFree(m.tag, 'Memory', m.len);
        fz.remove(m);
      },
    },
    {
      name: 'mem.allocMdl', w: 4,
      run(fz, r) {
        const rt = fz.rt;
        const owner = pickOwner(fz, r, false);
        const rg = pickRange(fz, r);
        const v = r.int(10);
        if (owner && rg && v === 0) {
          const { v: h, how } = fz.badPtr(r, OWNER_KINDS);
          fz.bad(fz.call('NdisAllocateMdl', [h, rg.va, rg.len]), PTR_RULES, () => rt.NdisAllocateMdl(h, rg.va, rg.len), [], how);
          return;
        }
        if (owner && (v === 1 || (!rg && v < 5))) {
          // A range outside any one live allocation.
          const [va, len, why] = rg
            ? r.pick([[rg.block.addr, rg.block.len + 1, 'range past the block'], [rg.va, rg.block.addr + rg.block.len - rg.va + r.range(1, 64), 'range past the block'], [rg.block.addr + rg.block.len + 0x10000, 4, 'range in no block']])
            : [r.pick([0, 8, 0x10000, 0xfffffff0]), 4, 'range in no block'];
          if (insideObject(fz, va, len)) return;
          fz.bad(fz.call('NdisAllocateMdl', [owner.addr, va, len]), ['PARAM'], () => rt.NdisAllocateMdl(owner.addr, va, len), [], why);
          return;
        }
        if (owner && rg && v === 2) {
          badArg(fz, r, 'NdisAllocateMdl', [owner.addr, rg.va, rg.len], r.int(3), (...a) => rt.NdisAllocateMdl(...a));
          return;
        }
        if (!owner || !rg) return;
        const m = fz.ok(fz.call('NdisAllocateMdl', [owner.addr, rg.va, rg.len]), () => rt.NdisAllocateMdl(owner.addr, rg.va, rg.len));
        if (m === 0) return fz.allocFailed('NdisAllocateMdl');
        fz.counters.alloc(mdlPoolKey(fz));
        const o = addMdl(fz, m, 'caller', rg.va, rg.len, { ownerH: owner.addr });
        memArea.verifyMdl(fz, o, 'fresh');
      },
    },
    {
      name: 'mem.freeMdl', w: 3,
      run(fz, r) {
        const rt = fz.rt;
        const v = r.int(10);
        if (v < 2) {
          // MDLs NdisFreeMdl must refuse: a retreat's default MDL (ADV-2), a buffer on a live
          // packet (PKT-2), the MDL inside an NB (not an NdisAllocateMdl MDL: ORIGIN).
          const cands = fz.all('mdl', (m) => m.sub === 'rdef' || m.sub === 'emb' || !!chainedTo(fz, m));
          if (cands.length) {
            const m = r.pick(cands);
            const rules = m.sub === 'rdef' ? ['ADV-2'] : m.sub === 'emb' ? ['ORIGIN'] : ['PKT-2'];
            fz.bad(fz.call('NdisFreeMdl', [m.addr]), rules, () => rt.NdisFreeMdl(m.addr), [m], `free ${m.sub} MDL`);
            return;
          }
        }
        if (v === 2) {
          const { v: x, how } = fz.badPtr(r, ['mdl']);
          fz.bad(fz.call('NdisFreeMdl', [x]), PTR_RULES, () => rt.NdisFreeMdl(x), [], how);
          return;
        }
        if (v === 3) return badArg(fz, r, 'NdisFreeMdl', [0], 0, (x) => rt.NdisFreeMdl(x));
        const m = fz.any(r, 'mdl', (x) => (x.sub === 'caller' || x.sub === 'buf') && !chainedTo(fz, x));
        if (!m) return;
        // Unlink whatever still points at it (NDIS_MDL_LINKAGE_SET): freeing a linked MDL would
        // leave the model with a dangling chain. NBs' chains are left to the NB areas: skip those.
        const refs = fz.referrers(m.addr);
        if (refs.some((o) => o.kind !== 'mdl' || o.sub === 'emb' || chainedTo(fz, o))) return;
        for (const o of refs) {
          chainChanged(fz, o); // NB chains through it get shorter: their CurrentMdl may be stale
          fz.ok(fz.call('NDIS_MDL_LINKAGE_SET', [o.addr, 0]), () => rt.NDIS_MDL_LINKAGE_SET(o.addr, 0));
          o.next = 0;
        }
        const useBuffer = r.chance(0.3);
        const fn = useBuffer ? 'NdisFreeBuffer' : 'NdisFreeMdl';
        fz.ok(fz.call(fn, [m.addr]), () => (useBuffer ? rt.NdisFreeBuffer(m.addr) : rt.NdisFreeMdl(m.addr)));
        fz.counters.free(mdlPoolKey(fz));
        fz.remove(m);
      },
    },
    {
      name: 'mem.mdlLinkage', w: 3,
      run(fz, r) {
        const rt = fz.rt;
        const free = (x) => x.sub === 'caller' && !chainedTo(fz, x) && !fz.referrers(x.addr).some((o) => o.kind === 'packet');
        const m = fz.any(r, 'mdl', free);
        const v = r.int(10);
        if (!m) return;
        if (v === 0) {
          fz.bad(fz.call('NDIS_MDL_LINKAGE_SET', [m.addr, m.addr]), ['NB-CONS'], () => rt.NDIS_MDL_LINKAGE_SET(m.addr, m.addr), [m], 'self link');
          return;
        }
        if (v === 1) {
          const { v: x, how } = fz.badPtr(r, ['mdl'], { noNull: true });
          fz.bad(fz.call('NDIS_MDL_LINKAGE_SET', [m.addr, x]), PTR_RULES, () => rt.NDIS_MDL_LINKAGE_SET(m.addr, x), [m], how);
          return;
        }
        if (v === 2) {
          const { v: x, how } = fz.badPtr(r, ['mdl']);
          fz.bad(fz.call('NDIS_MDL_LINKAGE_SET', [x, 0]), PTR_RULES, () => rt.NDIS_MDL_LINKAGE_SET(x, 0), [], how);
          return;
        }
        if (v === 3) {
          const fn = r.pick(['NDIS_MDL_LINKAGE', 'MmGetMdlByteCount', 'MmGetMdlVirtualAddress', 'NdisBufferLength']);
          const { v: x, how } = fz.badPtr(r, ['mdl']);
          fz.bad(fz.call(fn, [x]), PTR_RULES, () => rt[fn](x), [], how);
          return;
        }
        if (v === 4) {
          const bad = r.pick([1, 8, 17, 0x80000001, NaN, 'x', 0x100000000]);
          fz.bad(fz.call('MmGetSystemAddressForMdlSafe', [m.addr, bad]), ['PARAM'], () => rt.MmGetSystemAddressForMdlSafe(m.addr, bad), [m], 'bad priority');
          return;
        }
        const next = r.chance(0.3) ? 0 : fz.any(r, 'mdl', (x) => free(x) && x !== m)?.addr ?? 0;
        chainChanged(fz, m);
        fz.ok(fz.call('NDIS_MDL_LINKAGE_SET', [m.addr, next]), () => rt.NDIS_MDL_LINKAGE_SET(m.addr, next));
        m.next = next;
        memArea.verifyMdl(fz, m, 'after NDIS_MDL_LINKAGE_SET');
      },
    },
  ],

  /** Checks what the API shows of an MDL, generic object or memory block. */
  verify(fz, o, when) {
    if (o.kind === 'mdl') return memArea.verifyMdl(fz, o, when), true;
    if (o.kind === 'gen') return memArea.verifyGen(fz, o, when), true;
    if (o.kind === 'mem') return memArea.verifyMem(fz, o, when), true;
    return o.kind === 'prot' || o.kind === 'rtbuf';
  },

  verifyMdl(fz, m, when) {
    const rt = fz.rt;
    const w = `${m.name} (${when})`;
    fz.eq(`NDIS_MDL_LINKAGE(${w})`, rt.NDIS_MDL_LINKAGE(m.addr), m.next);
    fz.eq(`MmGetMdlByteCount(${w})`, rt.MmGetMdlByteCount(m.addr), m.len);
    fz.eq(`MmGetMdlVirtualAddress(${w})`, rt.MmGetMdlVirtualAddress(m.addr), m.va);
    fz.eq(`MmGetSystemAddressForMdlSafe(${w})`, rt.MmGetSystemAddressForMdlSafe(m.addr, 16 | 0x80000000), m.va);
  },

  verifyGen(fz, g, when, fresh = false) {
    const u8 = fz.rt.bytes(g.addr, 16);
    const dv = new DataView(u8.buffer, u8.byteOffset, 16);
    const w = `${g.name} (${when})`;
    fz.eq(`${w} header Type`, u8[0], 0x80);
    fz.eq(`${w} header Revision`, u8[1], 1);
    fz.eq(`${w} header Size`, dv.getUint16(2, true), 16);
    fz.eq(`${w} DriverObject`, dv.getUint32(12, true), g.drvObj);
    if (fresh) fz.checkZero(g.addr + 16, g.sz, `${w} caller bytes`);
    else fz.checkPattern(g.addr + 16, g.sz, g.seed, `${w} caller bytes`);
  },

  verifyMem(fz, m, when) {
    if (m.role === 'sent') fz.checkPattern(m.addr, Math.min(m.len, 4096), m.seed, `${m.name} (${when})`);
  },

  check(fz, r) {
    // A few random objects each step (the deep check does all of them).
    for (let i = 0; i < 2; i++) {
      const o = fz.randomLive(r, (x) => x.kind === 'mdl' || x.kind === 'gen' || x.kind === 'mem');
      if (o) fz.verify(o, 'sample');
    }
  },

  teardown(fz) {
    const rt = fz.rt;
    // MDLs first (whatever still links them), then memory, generic objects, protocols.
    for (const m of fz.all('mdl', (x) => x.sub === 'caller' || x.sub === 'buf')) {
      if (chainedTo(fz, m)) continue;
      fz.ok(fz.call('NdisFreeMdl', [m.addr]), () => rt.NdisFreeMdl(m.addr));
      fz.counters.free(mdlPoolKey(fz));
      fz.remove(m);
    }
    let owner = fz.all('prot')[0] ?? fz.all('gen')[0];
    if (!owner && fz.all('mem').length) {
      const box = { value: 0 };
      fz.eq('teardown protocol', fz.ok('NdisRegisterProtocolDriver(teardown)', () => rt.NdisRegisterProtocolDriver(0, protocolChars('FzTeardown'), box)), 0);
      fz.pnpPending = (fz.pnpPending ?? 0) + 1;
      owner = fz.add({ kind: 'prot', addr: box.value, size: 4, owned: 0 });
    }
    for (const m of fz.all('mem')) {
      memArea.verifyMem(fz, m, 'teardown');
      fz.ok(fz.call('NdisFreeMemoryWithTagPriority', [owner.addr, m.addr, m.tag]), () => rt.NdisFreeMemoryWithTagPriority(owner.addr, m.addr, m.tag));
      fz.counters.memFree(m.tag, 'Memory', m.len);
      fz.remove(m);
    }
    for (const g of fz.all('gen', (x) => x.owned === 0)) {
      memArea.verifyGen(fz, g, 'teardown');
      fz.ok(fz.call('NdisFreeGenericObject', [g.addr]), () => rt.NdisFreeGenericObject(g.addr));
      fz.counters.memFree(g.tag, 'GenericObject', 16 + g.sz);
      fz.remove(g);
    }
    for (const p of fz.all('prot', (x) => x.owned === 0)) {
      fz.ok(fz.call('NdisDeregisterProtocolDriver', [p.addr]), () => rt.NdisDeregisterProtocolDriver(p.addr));
      fz.remove(p);
    }
  },
};

