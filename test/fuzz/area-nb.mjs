/**
 * Area "nb": NET_BUFFER pools and NET_BUFFERs (NdisAllocateNetBufferPool, NdisFreeNetBufferPool,
 * NdisAllocateNetBuffer, NdisAllocateNetBufferMdlAndData, NdisFreeNetBuffer,
 * NdisGetPoolFromNetBuffer, the NET_BUFFER_* accessors and setters).
 *
 * Model objects:
 *   nbPool {tag, ds, owner, key, count}   key: the pool in the counter model
 *   nb     {sub, pool, f, curDirty, seed} sub 'plain' | 'mdat' | 'pre' (preallocated in an NBL,
 *                                         made by area-nbl); f: the seven NET_BUFFER fields
 *
 * The data space (chain walk, CurrentMdl placement) is modelled here and shared with area-ds.
 */
import { PTR_RULES, hex } from './core.mjs';
import { addMdl, pickOwner, OWNER_KINDS, mdlPoolKey, freeRtBuf } from './area-mem.mjs';

export const NB_SIZE = 0x58;
export const MDAT_MDL = 0x58;
export const MDAT_DATA = 0x78;
const POOL_DESC = 128;
const TAGS = [0x4e427a46, 0x4e427a47, 0x41424344];

/**
 * Walks an MDL chain as the runtime does: every link must be a live MDL, no loops.
 * @returns {{err: null|'loop'|'dead', mdls: any[], total: number}}
 */
export function chainWalk(fz, head) {
  const mdls = [];
  let total = 0;
  const seen = new Set();
  for (let a = head; a !== 0; ) {
    if (seen.has(a)) return { err: 'loop', mdls, total };
    const m = fz.live.get(a);
    if (!m || m.kind !== 'mdl') return { err: 'dead', mdls, total };
    seen.add(a);
    mdls.push(m);
    total += m.len;
    a = m.next;
  }
  return { err: null, mdls, total };
}

/** The rules a data-space call on `nb` raises because of its chain, or null when it is consistent. */
export function nbChainRules(fz, nb) {
  const w = chainWalk(fz, nb.f.chain);
  if (w.err === 'loop') return { rules: ['NB-CONS'], w, why: 'MDL chain loops' };
  if (w.err === 'dead') return { rules: PTR_RULES, w, why: 'MDL chain has a dead link' };
  // Known bug (report): with no MDL chain at all the runtime does not check DataOffset +
  // DataLength (README: NB-CONS). knownBugs false models what it does instead.
  if (nb.f.off + nb.f.len > w.total && !(w.mdls.length === 0 && fz.cfg.knownBugs === false)) {
    return { rules: ['NB-CONS'], w, why: 'DataOffset + DataLength beyond the chain' };
  }
  return { rules: null, w, why: '' };
}

/** CurrentMdl / CurrentMdlOffset from DataOffset over a valid chain (DESIGN decision 4). */
export function adjustCurrent(nb, mdls) {
  let rem = nb.f.off;
  if (!mdls.length) {
    nb.f.cur = 0;
    nb.f.curOff = 0;
  } else {
    let i = 0;
    while (rem >= mdls[i].len && i + 1 < mdls.length) {
      rem -= mdls[i].len;
      i++;
    }
    nb.f.cur = mdls[i].addr;
    nb.f.curOff = rem;
  }
  nb.curDirty = false;
}

/** Marks NBs whose chain runs through MDL `m` (its Next changed): their CurrentMdl may be stale. */
export function chainChanged(fz, m) {
  for (const nb of fz.all('nb')) {
    if (chainWalk(fz, nb.f.chain).mdls.includes(m)) nb.curDirty = true;
  }
}

/** Registers a NET_BUFFER in the model (with its MDL when it carries data). */
export function addNb(fz, addr, sub, pool, ds, extra = {}) {
  const nb = fz.add({
    kind: 'nb', addr, size: sub === 'pre' ? 0 : ds ? MDAT_DATA + ds : NB_SIZE, sub, pool, ds,
    f: { next: 0, cur: 0, curOff: 0, len: 0, chain: 0, off: 0, bias: 0 },
    curDirty: false, seed: fz.nextId * 7919, emb: null, ...extra,
    refs() { return [this.f.next, this.f.chain, this.f.cur]; },
  });
  if (ds) {
    nb.emb = addMdl(fz, addr + MDAT_MDL, 'emb', addr + MDAT_DATA, ds, { parent: nb });
    nb.f.chain = nb.f.cur = nb.emb.addr;
    nb.f.len = ds;
  }
  return nb;
}

/** Checks a fresh NB's reserved areas are zero, then writes its pattern there. */
export function initReserved(fz, nb) {
  fz.checkZero(nb.addr + 0x28, 24, `${nb.name} ProtocolReserved (fresh)`);
  fz.checkZero(nb.addr + 0x40, 16, `${nb.name} MiniportReserved (fresh)`);
  fz.fillPattern(nb.addr + 0x28, 24, nb.seed);
  fz.fillPattern(nb.addr + 0x40, 16, nb.seed + 1);
}

/**
 * Frees what NdisFreeNetBuffer / NdisFreeNetBufferList free with an NB (DESIGN decision 21):
 * a retreat's default MDLs (and buffers) at the head of the chain; a handler's MDLs are
 * unlinked and go back to the caller. Then the NB's own MDL.
 */
export function releaseNb(fz, nb) {
  let a = nb.f.chain;
  while (a) {
    const m = fz.live.get(a);
    if (!m || m.kind !== 'mdl' || (m.sub !== 'rdef' && m.sub !== 'rhnd')) break;
    const next = m.next;
    if (m.sub === 'rdef') {
      fz.counters.free(mdlPoolKey(fz));
      freeRtBuf(fz, m.buf);
      fz.remove(m);
    } else {
      m.sub = 'caller';
      m.next = 0;
    }
    a = next;
  }
  if (nb.emb) fz.remove(nb.emb);
  fz.remove(nb);
}

/** Unlinks every live reference to `addrs` (NB Next, NBL FirstNetBuffer / Next) with the setters. */
export function unlinkRefs(fz, addrs) {
  const rt = fz.rt;
  for (const a of addrs) {
    for (const o of fz.referrers(a)) {
      if (o.kind === 'nb' && o.f.next === a) {
        fz.ok(fz.call('NET_BUFFER_NEXT_NB_SET', [o.addr, 0]), () => rt.NET_BUFFER_NEXT_NB_SET(o.addr, 0));
        o.f.next = 0;
      } else if (o.kind === 'nbl' && o.firstNb === a) {
        fz.ok(fz.call('NET_BUFFER_LIST_FIRST_NB_SET', [o.addr, 0]), () => rt.NET_BUFFER_LIST_FIRST_NB_SET(o.addr, 0));
        o.firstNb = 0;
      } else if (o.kind === 'nbl' && o.next === a) {
        fz.ok(fz.call('NET_BUFFER_LIST_NEXT_NBL_SET', [o.addr, 0]), () => rt.NET_BUFFER_LIST_NEXT_NBL_SET(o.addr, 0));
        o.next = 0;
      } else {
        return false;
      }
    }
  }
  return true;
}

/** An NB pool parameter block; `bad` picks one defect. */
function poolParams(r, ds, tag) {
  const rev = r.chance(0.5) ? 1 : 2;
  const p = {
    Header: { Type: 0x80, Revision: rev, Size: (rev === 1 ? 12 : 16) + (r.chance(0.2) ? r.range(1, 64) : 0) },
    PoolTag: tag, DataSize: ds,
  };
  if (rev === 2 || r.chance(0.2)) p.Flags = r.chance(0.7) ? 0 : 1;
  return p;
}

export const nbArea = {
  name: 'nb',

  foreign(fz, rt2) {
    const pool = rt2.NdisAllocateNetBufferPool(0, { Header: { Type: 0x80, Revision: 1, Size: 12 }, PoolTag: 1, DataSize: 64 });
    fz.foreign.push({ kind: 'nbPool', v: pool });
    fz.foreign.push({ kind: 'nb', v: rt2.NdisAllocateNetBufferMdlAndData(pool) });
    const pool0 = rt2.NdisAllocateNetBufferPool(0, { Header: { Type: 0x80, Revision: 1, Size: 12 }, PoolTag: 1, DataSize: 0 });
    fz.foreign.push({ kind: 'nbPool', v: pool0 });
    fz.foreign.push({ kind: 'nb', v: rt2.NdisAllocateNetBuffer(pool0, 0, 0, 0) });
  },

  ops: [
    {
      name: 'nb.createPool', w: 2,
      run(fz, r) {
        const rt = fz.rt;
        if (fz.all('nbPool').length >= 6 && r.chance(0.8)) return;
        const owner = pickOwner(fz, r, true);
        if (owner === undefined) return;
        const tag = r.pick(TAGS);
        const ds = r.weighted([[5, 0], [5, r.range(1, 1600)], [1, r.pick([1, 8, 1514, 4096])], [fz.small ? 1 : 0.2, 300000], [0.3, 0xfffffff0]]);
        const params = poolParams(r, ds, tag);
        const h = owner ? owner.addr : 0;
        const v = r.int(10);
        if (v === 0) {
          const [mut, rules, defect] = r.pick([
            [(p) => { p.Header.Type = r.pick([0, 0x81, 0x95, 0x180]); }, ['HDR-1'], 'header type'],
            [(p) => { p.Header.Revision = r.pick([0, 3, 255]); }, ['HDR-1'], 'header revision'],
            [(p) => { p.Header.Size = p.Header.Revision === 1 ? r.pick([0, 11]) : r.pick([12, 15]); }, ['HDR-1'], 'header size'],
            [(p) => { p.Header.Size = r.pick([0x10000, -1, NaN]); }, ['HDR-1'], 'header size'],
            [(p) => { delete p.Header; }, ['HDR-1'], 'no header'],
            [(p) => { p.Header = 5; }, ['HDR-1'], 'no header'],
            [(p) => { p.Header.Revision = 2; p.Header.Size = 16; p.Flags = r.pick([2, 0x80000000, 3]); }, ['POOL-1'], 'pool flags'],
            [(p) => { p.Header.Revision = 2; p.Header.Size = 16; p.Flags = fz.badNumber(r); }, ['PARAM'], 'non-u32'],
            [(p) => { p.PoolTag = fz.badNumber(r); }, ['PARAM'], 'non-u32'],
            [(p) => { p.DataSize = fz.badNumber(r); }, ['PARAM'], 'non-u32'],
          ]);
          mut(params);
          if (params.Flags === undefined && defect === 'non-u32' && params.Header?.Revision === 2) return;
          fz.bad(fz.call('NdisAllocateNetBufferPool', [h, params]), rules, () => rt.NdisAllocateNetBufferPool(h, params), [], defect);
          return;
        }
        if (v === 1) {
          const [args, rules, defect] = r.pick([
            [[fz.badNumber(r), params], ['PARAM'], 'non-u32'],
            [[h, r.pick([null, 7, 'p'])], ['PARAM'], 'non-object'],
            [[fz.badPtr(r, OWNER_KINDS, { noNull: true }).v, params], PTR_RULES, 'bad owner'],
          ]);
          fz.bad(fz.call('NdisAllocateNetBufferPool', args), rules, () => rt.NdisAllocateNetBufferPool(...args), [], defect);
          return;
        }
        const p = fz.ok(fz.call('NdisAllocateNetBufferPool', [h, params]), () => rt.NdisAllocateNetBufferPool(h, params));
        if (ds > 0xfff00000 - MDAT_DATA) return fz.eq('NdisAllocateNetBufferPool with objects beyond the address space', p, 0);
        if (p === 0) return fz.allocFailed('NdisAllocateNetBufferPool');
        const key = fz.counters.newPool(tag, 'NB', ds ? MDAT_DATA + ds : NB_SIZE);
        fz.add({ kind: 'nbPool', addr: p, size: POOL_DESC, tag, ds, owner, key, count: 0 });
        if (owner) owner.owned++;
      },
    },
    {
      name: 'nb.freePool', w: 1,
      run(fz, r) {
        const rt = fz.rt;
        const p = fz.any(r, 'nbPool');
        const v = r.int(6);
        if (p && p.count > 0 && v < 3) {
          fz.bad(fz.call('NdisFreeNetBufferPool', [p.addr]), ['POOL-5'], () => rt.NdisFreeNetBufferPool(p.addr), [p], 'pool with objects');
          return;
        }
        if (!p || v === 3) {
          const { v: x, how } = fz.badPtr(r, ['nbPool']);
          fz.bad(fz.call('NdisFreeNetBufferPool', [x]), PTR_RULES, () => rt.NdisFreeNetBufferPool(x), [], how);
          return;
        }
        if (v === 4) {
          const x = fz.badNumber(r);
          fz.bad(fz.call('NdisFreeNetBufferPool', [x]), ['PARAM'], () => rt.NdisFreeNetBufferPool(x), [], 'non-u32');
          return;
        }
        if (p.count > 0) return;
        nbArea.freePool(fz, p);
      },
    },
    {
      name: 'nb.alloc', w: 5,
      run(fz, r) {
        const rt = fz.rt;
        const pool = fz.any(r, 'nbPool', (p) => p.ds === 0);
        const mdat = fz.any(r, 'nbPool', (p) => p.ds !== 0);
        const v = r.int(12);
        if (mdat && v === 0) {
          fz.bad(fz.call('NdisAllocateNetBuffer', [mdat.addr, 0, 0, 0]), ['POOL-4'], () => rt.NdisAllocateNetBuffer(mdat.addr, 0, 0, 0), [mdat], 'wrong pool kind');
          return;
        }
        if (!pool || v === 1) {
          const { v: x, how } = fz.badPtr(r, ['nbPool']);
          fz.bad(fz.call('NdisAllocateNetBuffer', [x, 0, 0, 0]), PTR_RULES, () => rt.NdisAllocateNetBuffer(x, 0, 0, 0), [], how);
          return;
        }
        if (v === 2) {
          const args = [pool.addr, 0, 0, 0];
          args[r.int(4)] = fz.badNumber(r);
          fz.bad(fz.call('NdisAllocateNetBuffer', args), ['PARAM'], () => rt.NdisAllocateNetBuffer(...args), [pool], 'non-u32');
          return;
        }
        // The chain: NULL, or a caller MDL (and whatever it links to).
        const head = r.chance(0.2) ? null : fz.any(r, 'mdl', (m) => m.sub === 'caller');
        let chain = head ? head.addr : 0;
        if (v === 3) chain = fz.badPtr(r, ['mdl'], { noNull: true }).v;
        const w = chainWalk(fz, chain);
        let off = 0;
        let len = 0;
        if (chain && !w.err && w.total > 0) {
          off = r.int(w.total + 1);
          len = r.int(w.total - off + 1);
        }
        let rules = null;
        let defect = '';
        if (w.err === 'loop') [rules, defect] = [['NB-CONS'], 'MDL chain loops'];
        else if (w.err === 'dead') [rules, defect] = [PTR_RULES, 'bad MDL in chain'];
        else if (v === 4 && chain === 0) {
          [off, len] = r.pick([[1, 0], [0, 1], [r.range(1, 99), r.range(1, 99)]]);
          [rules, defect] = [['NB-ARGS'], 'NULL chain with data'];
        } else if (v === 5 && chain !== 0) {
          if (r.chance(0.5)) off = w.total - len + r.range(1, 5);
          else len = w.total - off + r.range(1, 5);
          if (r.chance(0.2)) [off, len] = [0xffffffff, 1];
          [rules, defect] = [['NB-CONS'], 'DataOffset + DataLength beyond the chain'];
        }
        const args = [pool.addr, chain, off, len];
        if (rules) {
          fz.bad(fz.call('NdisAllocateNetBuffer', args), rules, () => rt.NdisAllocateNetBuffer(...args), [pool], defect);
          return;
        }
        const nb = fz.ok(fz.call('NdisAllocateNetBuffer', args), () => rt.NdisAllocateNetBuffer(...args));
        if (nb === 0) return fz.allocFailed('NdisAllocateNetBuffer');
        fz.counters.alloc(pool.key);
        pool.count++;
        const o = addNb(fz, nb, 'plain', pool, 0);
        Object.assign(o.f, { chain, off, len });
        adjustCurrent(o, w.mdls);
        initReserved(fz, o);
        nbArea.verifyNb(fz, o, 'fresh');
      },
    },
    {
      name: 'nb.allocMdat', w: 5,
      run(fz, r) {
        const rt = fz.rt;
        const pool = fz.any(r, 'nbPool', (p) => p.ds !== 0);
        const plain = fz.any(r, 'nbPool', (p) => p.ds === 0);
        const v = r.int(10);
        if (plain && v === 0) {
          fz.bad(fz.call('NdisAllocateNetBufferMdlAndData', [plain.addr]), ['POOL-4'], () => rt.NdisAllocateNetBufferMdlAndData(plain.addr), [plain], 'wrong pool kind');
          return;
        }
        if (!pool || v === 1) {
          const { v: x, how } = r.chance(0.8) ? fz.badPtr(r, ['nbPool']) : { v: fz.badNumber(r), how: 'non-u32' };
          fz.bad(fz.call('NdisAllocateNetBufferMdlAndData', [x]), how === 'non-u32' ? ['PARAM'] : PTR_RULES, () => rt.NdisAllocateNetBufferMdlAndData(x), [], how);
          return;
        }
        const nb = fz.ok(fz.call('NdisAllocateNetBufferMdlAndData', [pool.addr]), () => rt.NdisAllocateNetBufferMdlAndData(pool.addr));
        if (nb === 0) return fz.allocFailed('NdisAllocateNetBufferMdlAndData');
        fz.counters.alloc(pool.key);
        pool.count++;
        const o = addNb(fz, nb, 'mdat', pool, pool.ds);
        initReserved(fz, o);
        nbArea.verifyNb(fz, o, 'fresh');
      },
    },
    {
      name: 'nb.free', w: 4,
      run(fz, r) {
        const rt = fz.rt;
        const v = r.int(10);
        if (v === 0) {
          const pre = fz.any(r, 'nb', (n) => n.sub === 'pre');
          if (pre) {
            fz.bad(fz.call('NdisFreeNetBuffer', [pre.addr]), ['NBL-FREE-1'], () => rt.NdisFreeNetBuffer(pre.addr), [pre, pre.nbl], 'preallocated NB');
            return;
          }
        }
        if (v <= 2) {
          const { v: x, how } = r.chance(0.85) ? fz.badPtr(r, ['nb']) : { v: fz.badNumber(r), how: 'non-u32' };
          fz.bad(fz.call('NdisFreeNetBuffer', [x]), how === 'non-u32' ? ['PARAM'] : PTR_RULES, () => rt.NdisFreeNetBuffer(x), [], how);
          return;
        }
        const nb = fz.any(r, 'nb', (n) => n.sub !== 'pre');
        if (!nb) return;
        nbArea.freeNb(fz, nb);
      },
    },
    {
      name: 'nb.get', w: 3,
      run(fz, r) {
        const rt = fz.rt;
        const nb = fz.any(r, 'nb');
        if (!nb || r.chance(0.3)) {
          const fn = r.pick(['NET_BUFFER_NEXT_NB', 'NET_BUFFER_FIRST_MDL', 'NET_BUFFER_DATA_LENGTH', 'NET_BUFFER_DATA_OFFSET', 'NET_BUFFER_CURRENT_MDL',
            'NET_BUFFER_CURRENT_MDL_OFFSET', 'NET_BUFFER_CHECKSUM_BIAS', 'NET_BUFFER_PROTOCOL_RESERVED', 'NET_BUFFER_MINIPORT_RESERVED', 'NdisGetPoolFromNetBuffer']);
          const { v: x, how } = r.chance(0.85) ? fz.badPtr(r, ['nb']) : { v: fz.badNumber(r), how: 'non-u32' };
          fz.bad(fz.call(fn, [x]), how === 'non-u32' ? ['PARAM'] : PTR_RULES, () => rt[fn](x), [], how);
          return;
        }
        nbArea.verifyNb(fz, nb, 'accessors');
      },
    },
    {
      name: 'nb.set', w: 3,
      run(fz, r) {
        const rt = fz.rt;
        const nb = fz.any(r, 'nb');
        if (!nb) return;
        const v = r.int(14);
        const f = nb.f;
        const set = (fn, args, apply) => {
          fz.ok(fz.call(fn, args), () => rt[fn](...args));
          apply();
          nbArea.verifyNb(fz, nb, `after ${fn}`);
        };
        switch (v) {
          case 0: {
            // Link to another NB (or unlink).
            // Not into a driver NBL's NB: the driver area frees those without asking.
            const other = r.chance(0.3) ? null : fz.any(r, 'nb', (n) => n !== nb && !n.nbl?.drv);
            const next = other ? other.addr : 0;
            return set('NET_BUFFER_NEXT_NB_SET', [nb.addr, next], () => { f.next = next; });
          }
          case 1:
            return fz.bad(fz.call('NET_BUFFER_NEXT_NB_SET', [nb.addr, nb.addr]), ['NB-CONS'], () => rt.NET_BUFFER_NEXT_NB_SET(nb.addr, nb.addr), [nb], 'self link');
          case 2: {
            const { v: x, how } = fz.badPtr(r, ['nb'], { noNull: true });
            return fz.bad(fz.call('NET_BUFFER_NEXT_NB_SET', [nb.addr, x]), PTR_RULES, () => rt.NET_BUFFER_NEXT_NB_SET(nb.addr, x), [nb], how);
          }
          case 3: {
            // A new chain (caller MDLs only), with the five fields set consistently.
            if (chainWalk(fz, f.chain).mdls.some((m) => m.sub === 'rdef' || m.sub === 'rhnd')) return;
            const m = r.chance(0.2) ? null : fz.any(r, 'mdl', (x) => x.sub === 'caller');
            const head = m ? m.addr : 0;
            const w = chainWalk(fz, head);
            set('NET_BUFFER_FIRST_MDL_SET', [nb.addr, head], () => { f.chain = head; });
            if (w.err) return;
            const off = r.int(w.total + 1);
            const len = r.int(w.total - off + 1);
            set('NET_BUFFER_DATA_OFFSET_SET', [nb.addr, off], () => { f.off = off; nb.curDirty = true; });
            set('NET_BUFFER_DATA_LENGTH_SET', [nb.addr, len], () => { f.len = len; });
            const want = { f: { ...f } };
            adjustCurrent(want, w.mdls);
            set('NET_BUFFER_CURRENT_MDL_SET', [nb.addr, want.f.cur], () => { f.cur = want.f.cur; });
            set('NET_BUFFER_CURRENT_MDL_OFFSET_SET', [nb.addr, want.f.curOff], () => { f.curOff = want.f.curOff; nb.curDirty = false; });
            return;
          }
          case 4: {
            const { v: x, how } = fz.badPtr(r, ['mdl'], { noNull: true });
            const fn = r.pick(['NET_BUFFER_FIRST_MDL_SET', 'NET_BUFFER_CURRENT_MDL_SET']);
            return fz.bad(fz.call(fn, [nb.addr, x]), PTR_RULES, () => rt[fn](nb.addr, x), [nb], how);
          }
          case 5: {
            const fn = r.pick(['NET_BUFFER_DATA_OFFSET_SET', 'NET_BUFFER_DATA_LENGTH_SET', 'NET_BUFFER_CURRENT_MDL_OFFSET_SET']);
            const x = r.chance(0.5) ? r.u32() : r.int(64);
            return set(fn, [nb.addr, x], () => {
              if (fn === 'NET_BUFFER_DATA_OFFSET_SET') f.off = x;
              else if (fn === 'NET_BUFFER_DATA_LENGTH_SET') f.len = x;
              else f.curOff = x;
              nb.curDirty = true;
            });
          }
          case 6: {
            const fn = r.pick(['NET_BUFFER_DATA_OFFSET_SET', 'NET_BUFFER_DATA_LENGTH_SET', 'NET_BUFFER_CURRENT_MDL_OFFSET_SET', 'NET_BUFFER_CHECKSUM_BIAS_SET', 'NET_BUFFER_NEXT_NB_SET']);
            const x = fn === 'NET_BUFFER_CHECKSUM_BIAS_SET' && r.chance(0.5) ? r.pick([0x10000, 0xffffffff]) : fz.badNumber(r);
            if (fn === 'NET_BUFFER_NEXT_NB_SET' && x === 0) return;
            return fz.bad(fz.call(fn, [nb.addr, x]), ['PARAM'], () => rt[fn](nb.addr, x), [nb], 'non-u32');
          }
          case 7: {
            const b = r.int(0x10000);
            return set('NET_BUFFER_CHECKSUM_BIAS_SET', [nb.addr, b], () => { f.bias = b; });
          }
          case 8: {
            // CurrentMdl to any caller MDL (consistent or not: the model knows it is stale).
            const m = fz.any(r, 'mdl', (x) => x.sub === 'caller');
            if (!m) return;
            return set('NET_BUFFER_CURRENT_MDL_SET', [nb.addr, m.addr], () => { f.cur = m.addr; nb.curDirty = true; });
          }
          case 9: {
            const fn = r.pick(['NET_BUFFER_DATA_LENGTH_SET', 'NET_BUFFER_CHECKSUM_BIAS_SET', 'NET_BUFFER_NEXT_NB_SET', 'NET_BUFFER_FIRST_MDL_SET']);
            const { v: x, how } = fz.badPtr(r, ['nb']);
            return fz.bad(fz.call(fn, [x, 0]), PTR_RULES, () => rt[fn](x, 0), [], how);
          }
          default: {
            // Back to consistent: DataOffset within the chain and the current pair from it.
            const w = chainWalk(fz, f.chain);
            if (w.err) return;
            if (f.off + f.len > w.total) {
              const len = r.int(w.total - Math.min(f.off, w.total) + 1);
              const off = Math.min(f.off, w.total - len);
              set('NET_BUFFER_DATA_OFFSET_SET', [nb.addr, off], () => { f.off = off; nb.curDirty = true; });
              set('NET_BUFFER_DATA_LENGTH_SET', [nb.addr, len], () => { f.len = len; });
            }
            fz.ok(fz.call('NdisAdjustNetBufferCurrentMdl', [nb.addr]), () => rt.NdisAdjustNetBufferCurrentMdl(nb.addr));
            adjustCurrent(nb, w.mdls);
            nbArea.verifyNb(fz, nb, 'after NdisAdjustNetBufferCurrentMdl');
          }
        }
      },
    },
  ],

  freePool(fz, p) {
    fz.ok(fz.call('NdisFreeNetBufferPool', [p.addr]), () => fz.rt.NdisFreeNetBufferPool(p.addr));
    fz.retire(p.key);
    if (p.owner) p.owner.owned--;
    fz.remove(p);
  },

  /** NdisFreeNetBuffer of a pool NB, after unlinking what still points at it. */
  freeNb(fz, nb) {
    if (!unlinkRefs(fz, [nb.addr])) return false;
    nbArea.verifyNb(fz, nb, 'before free');
    fz.ok(fz.call('NdisFreeNetBuffer', [nb.addr]), () => fz.rt.NdisFreeNetBuffer(nb.addr));
    fz.counters.free(nb.pool.key);
    nb.pool.count--;
    releaseNb(fz, nb);
    return true;
  },

  verify(fz, o, when) {
    if (o.kind === 'nb') return nbArea.verifyNb(fz, o, when), true;
    return o.kind === 'nbPool';
  },

  verifyNb(fz, nb, when) {
    const rt = fz.rt;
    const w = `${nb.name} (${when})`;
    const f = nb.f;
    fz.eq(`NET_BUFFER_NEXT_NB(${w})`, rt.NET_BUFFER_NEXT_NB(nb.addr), f.next);
    fz.eq(`NET_BUFFER_FIRST_MDL(${w})`, rt.NET_BUFFER_FIRST_MDL(nb.addr), f.chain);
    fz.eq(`NET_BUFFER_DATA_LENGTH(${w})`, rt.NET_BUFFER_DATA_LENGTH(nb.addr), f.len);
    fz.eq(`NET_BUFFER_DATA_OFFSET(${w})`, rt.NET_BUFFER_DATA_OFFSET(nb.addr), f.off);
    fz.eq(`NET_BUFFER_CURRENT_MDL(${w})`, rt.NET_BUFFER_CURRENT_MDL(nb.addr), f.cur);
    fz.eq(`NET_BUFFER_CURRENT_MDL_OFFSET(${w})`, rt.NET_BUFFER_CURRENT_MDL_OFFSET(nb.addr), f.curOff);
    fz.eq(`NET_BUFFER_CHECKSUM_BIAS(${w})`, rt.NET_BUFFER_CHECKSUM_BIAS(nb.addr), f.bias);
    fz.eq(`NET_BUFFER_PROTOCOL_RESERVED(${w})`, rt.NET_BUFFER_PROTOCOL_RESERVED(nb.addr), nb.addr + 0x28);
    fz.eq(`NET_BUFFER_MINIPORT_RESERVED(${w})`, rt.NET_BUFFER_MINIPORT_RESERVED(nb.addr), nb.addr + 0x40);
    fz.eq(`NdisGetPoolFromNetBuffer(${w})`, rt.NdisGetPoolFromNetBuffer(nb.addr), nb.pool.addr);
    fz.checkPattern(nb.addr + 0x28, 24, nb.seed, `${w} ProtocolReserved`);
    fz.checkPattern(nb.addr + 0x40, 16, nb.seed + 1, `${w} MiniportReserved`);
  },

  check(fz, r) {
    const nb = fz.randomLive(r, (x) => x.kind === 'nb');
    if (nb) nbArea.verifyNb(fz, nb, 'sample');
  },

  deep(fz, report) {
    for (const p of fz.all('nbPool')) {
      const row = report.get(p.addr);
      if (!row) throw fz.fail(`memoryReport has no pool ${p.name} (${hex(p.addr)})`);
      fz.eq(`memoryReport live of ${p.name}`, row.live, p.count);
    }
  },

  teardown(fz) {
    for (const nb of fz.all('nb', (n) => n.sub !== 'pre')) nbArea.freeNb(fz, nb);
    for (const p of fz.all('nbPool')) nbArea.freePool(fz, p);
  },
};
