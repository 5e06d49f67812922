/**
 * Area "nbl": NET_BUFFER_LIST pools and NBLs (NdisAllocateNetBufferListPool, NdisFreeNetBufferListPool,
 * NdisAllocateNetBufferList, NdisAllocateNetBufferAndNetBufferList, NdisFreeNetBufferList,
 * freeNetBufferListChain, countNetBufferLists, countNetBuffers, nblChain), NBL contexts
 * (NdisAllocate/FreeNetBufferListContext, NET_BUFFER_LIST_CONTEXT_DATA_START/SIZE) and the NBL
 * accessors and setters.
 *
 * Model objects:
 *   nblPool {tag, ctx, allocNb, ds, pid, owner, key, count, objSize, nbOff}
 *   nbl     {pool, pre, next, firstNb, status, flags, nblFlags, info[13], src, ctx[], baseOffset, drv}
 *           ctx: the context block stack, bottom first: {addr, size, offset, pushed, tag, obj}
 *   ctx     a pushed context block (overlap and counters)
 * NBLs of the driver area carry `drv` (their owner is the driver model): the ops here leave them be.
 */
import { PTR_RULES, hex } from './core.mjs';
import { pickOwner, OWNER_KINDS } from './area-mem.mjs';
import { addNb, adjustCurrent, chainWalk, initReserved, releaseNb, unlinkRefs, MDAT_DATA, NB_SIZE } from './area-nb.mjs';

const NBL_SIZE = 0x88;
const POOL_DESC = 128;
const TAGS = [0x4c427a46, 0x4c427a47, 0x41424344];
export const PROTOCOL_HANDLE_KINDS = ['prot', 'dprot', 'miniport', 'adapter', 'binding'];

/** NBL pool geometry from its parameters. */
export function nblGeometry(ctx, allocNb, ds) {
  const nbOff = NBL_SIZE + (ctx ? 8 + ctx : 0);
  const objSize = nbOff + (allocNb ? (ds ? MDAT_DATA + ds : NB_SIZE) : 0);
  return { nbOff, objSize };
}

/** Registers a live NBL pool in the model. */
export function addNblPool(fz, addr, tag, ctx, allocNb, ds, pid, owner, extra = {}) {
  const { nbOff, objSize } = nblGeometry(ctx, allocNb, ds);
  const key = fz.counters.newPool(tag, 'NBL', objSize);
  if (owner) owner.owned++;
  return fz.add({ kind: 'nblPool', addr, size: POOL_DESC, tag, ctx, allocNb, ds, pid, owner, key, count: 0, objSize, nbOff, ...extra });
}

/**
 * The model of a freshly allocated NBL (NdisAllocateNetBufferList semantics) at `addr`;
 * `ctxAddr` is the NET_BUFFER_LIST_CONTEXT the runtime reports (its address is the runtime's
 * choice for a pushed block).
 */
export function addNbl(fz, pool, addr, ctxSize, backFill, ctxAddr, extra = {}) {
  const nbl = fz.add({
    kind: 'nbl', addr, size: pool.objSize, pool, pre: null, next: 0, firstNb: 0, status: 0, flags: 0, nblFlags: 0,
    info: new Array(13).fill(0), src: 0, ctx: [], baseOffset: 0, seed: fz.nextId * 104729, drv: false, ...extra,
    refs() { return [this.next, this.firstNb]; },
  });
  nbl.info[7] = pool.pid;
  fz.counters.alloc(pool.key);
  pool.count++;
  if (ctxSize > pool.ctx) {
    const size = ctxSize + backFill;
    const obj = fz.add({ kind: 'ctx', addr: ctxAddr, size: 8 + size, len: 8 + size, tag: pool.tag });
    fz.counters.memAlloc(pool.tag, 'Memory', 8 + size);
    nbl.ctx.push({ addr: ctxAddr, size, offset: backFill, pushed: false, obj });
  } else if (pool.ctx) {
    nbl.ctx.push({ addr: addr + NBL_SIZE, size: pool.ctx, offset: pool.ctx - ctxSize, pushed: false, obj: null });
  }
  nbl.baseOffset = nbl.ctx.length ? nbl.ctx[0].offset : 0;
  if (pool.allocNb) {
    const nb = addNb(fz, addr + pool.nbOff, 'pre', pool, pool.ds, { nbl });
    nbl.pre = nb;
    nbl.firstNb = nb.addr;
  }
  return nbl;
}

/** Model side of freeing an NBL (its preallocated NB, MDLs and base context block). */
export function releaseNbl(fz, nbl) {
  if (nbl.pre) releaseNb(fz, nbl.pre);
  const base = nbl.ctx[0];
  if (base?.obj) {
    fz.counters.memFree(base.obj.tag, 'Memory', base.obj.len);
    fz.remove(base.obj);
  }
  fz.counters.free(nbl.pool.key);
  nbl.pool.count--;
  fz.remove(nbl);
}

/** The rules a chain call starting at `head` raises, or null; `forFree` adds NBL-FREE-2. */
export function nblChainRules(fz, head, forFree) {
  const seen = new Set();
  const nbls = [];
  for (let a = head; a !== 0; ) {
    if (seen.has(a)) return { rules: ['PARAM'], nbls, why: 'NBL chain loops' };
    const n = fz.live.get(a);
    if (!n || n.kind !== 'nbl') return { rules: PTR_RULES, nbls, why: 'dead NBL in chain' };
    if (forFree && !ctxAtBase(n)) return { rules: ['NBL-FREE-2'], nbls, why: 'NBL with context added' };
    seen.add(a);
    nbls.push(n);
    a = n.next;
  }
  return { rules: null, nbls, why: '' };
}

/** NBs of an NBL's list (raw Next links; null when the list loops). */
export function nbList(fz, nbl) {
  const out = [];
  const seen = new Set();
  for (let a = nbl.firstNb; a !== 0; ) {
    if (seen.has(a)) return null;
    const nb = fz.live.get(a);
    if (!nb || nb.kind !== 'nb') throw new Error(`model: ${nbl.name} lists a dead NB ${hex(a)}`);
    seen.add(a);
    out.push(nb);
    a = nb.f.next;
  }
  return out;
}

/** countNetBuffers semantics: the NBL chain from `head`, then every NB list loop-free. */
export function nbCountRules(fz, head) {
  const c = nblChainRules(fz, head, false);
  if (c.rules) return { ...c, count: 0 };
  let count = 0;
  for (const n of c.nbls) {
    const l = nbList(fz, n);
    if (!l) return { rules: ['PARAM'], nbls: c.nbls, why: 'NB list loops', count: 0 };
    count += l.length;
  }
  return { rules: null, nbls: c.nbls, why: '', count };
}

/** The NBL's context is what it got at allocation (NdisFreeNetBufferList may free it). */
function ctxAtBase(n) {
  return n.ctx.length === 0 || (n.ctx.length === 1 && !n.ctx[0].pushed && n.ctx[0].offset === n.baseOffset);
}

function top(n) {
  return n.ctx.length ? n.ctx[n.ctx.length - 1] : null;
}

/** Addresses whose references must go before `nbls` are freed (the NBLs and their preallocated NBs). */
function dying(nbls) {
  const out = [];
  for (const n of nbls) {
    out.push(n.addr);
    if (n.pre) out.push(n.pre.addr);
  }
  return out;
}

/** Unlinks references from outside the set `nbls` (and their NBs) to them. */
function unlinkOutside(fz, nbls) {
  const rt = fz.rt;
  const inSet = new Set(nbls);
  const pres = new Set(nbls.map((n) => n.pre).filter(Boolean));
  for (const a of dying(nbls)) {
    for (const o of fz.referrers(a)) {
      if (inSet.has(o) || pres.has(o)) continue;
      if (o.kind === 'nbl' && o.drv) return false;
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

function poolParams(r, fz, owner) {
  const rev = r.chance(0.5) ? 1 : 2;
  const allocNb = r.chance(0.7);
  const ctx = r.weighted([[4, 0], [3, 8 * r.range(1, 8)], [1, r.pick([8, 256, 0xfff8])]]);
  const ds = allocNb ? r.weighted([[4, 0], [4, r.range(1, 1600)], [0.2, 0xfffffff0]]) : 0;
  const canPid = owner && PROTOCOL_HANDLE_KINDS.includes(owner.kind);
  const pid = canPid && r.chance(0.4) ? r.range(1, 15) : 0;
  const p = {
    Header: { Type: 0x80, Revision: rev, Size: (rev === 1 ? 16 : 20) + (r.chance(0.2) ? r.range(1, 32) : 0) },
    ProtocolId: pid, fAllocateNetBuffer: r.pick(allocNb ? [true, 1] : [false, 0]), ContextSize: ctx, PoolTag: r.pick(TAGS), DataSize: ds,
  };
  if (rev === 2 || r.chance(0.2)) p.Flags = r.chance(0.7) ? 0 : 1;
  return p;
}

const NBL_GETTERS = ['NET_BUFFER_LIST_NEXT_NBL', 'NET_BUFFER_LIST_FIRST_NB', 'NET_BUFFER_LIST_STATUS', 'NET_BUFFER_LIST_FLAGS', 'NET_BUFFER_LIST_NBL_FLAGS',
  'NET_BUFFER_LIST_SOURCE_HANDLE', 'NET_BUFFER_LIST_PROTOCOL_RESERVED', 'NET_BUFFER_LIST_MINIPORT_RESERVED', 'NET_BUFFER_LIST_CONTEXT',
  'NET_BUFFER_LIST_CONTEXT_DATA_SIZE', 'NdisGetNetBufferListProtocolId', 'NdisGetPoolFromNetBufferList'];

export const nblArea = {
  name: 'nbl',

  foreign(fz, rt2) {
    const pool = rt2.NdisAllocateNetBufferListPool(0, { Header: { Type: 0x80, Revision: 1, Size: 16 }, ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 16, PoolTag: 1, DataSize: 128 });
    fz.foreign.push({ kind: 'nblPool', v: pool });
    const nbl = rt2.NdisAllocateNetBufferList(pool, 0, 0);
    fz.foreign.push({ kind: 'nbl', v: nbl });
    fz.foreign.push({ kind: 'nb', v: rt2.NET_BUFFER_LIST_FIRST_NB(nbl) });
  },

  ops: [
    {
      name: 'nbl.createPool', w: 2,
      run(fz, r) {
        const rt = fz.rt;
        if (fz.all('nblPool', (p) => !p.drv).length >= 6 && r.chance(0.8)) return;
        const owner = pickOwner(fz, r, true);
        if (owner === undefined) return;
        const h = owner ? owner.addr : 0;
        const params = poolParams(r, fz, owner);
        const v = r.int(10);
        if (v === 0) {
          const canPid = owner && PROTOCOL_HANDLE_KINDS.includes(owner.kind);
          const [mut, rules, defect] = r.pick([
            [(p) => { p.Header.Type = r.pick([0, 0x81, 0x95]); }, ['HDR-1'], 'header type'],
            [(p) => { p.Header.Revision = r.pick([0, 3]); }, ['HDR-1'], 'header revision'],
            [(p) => { p.Header.Size = p.Header.Revision === 1 ? 15 : 16; }, ['HDR-1'], 'header size'],
            [(p) => { p.ContextSize = r.pick([1, 4, 12, 0xfffc]); }, ['POOL-1'], 'context size alignment'],
            [(p) => { p.fAllocateNetBuffer = false; p.DataSize = r.range(1, 2000); }, ['POOL-1'], 'DataSize without fAllocateNetBuffer'],
            [(p) => { p.Header.Revision = 2; p.Header.Size = 20; p.Flags = r.pick([2, 0x100]); }, ['POOL-1'], 'pool flags'],
            [(p) => { p.ProtocolId = r.range(16, 255); }, ['POOL-2'], 'protocol id above MAX'],
            [(p) => { if (!canPid) p.ProtocolId = r.range(1, 15); else p.ProtocolId = 0x10; }, ['POOL-2'], 'protocol id'],
            [(p) => { p.ProtocolId = r.pick([256, -1, NaN, '2']); }, ['PARAM'], 'non-u8'],
            [(p) => { p.fAllocateNetBuffer = r.pick([2, 'yes', null]); }, ['PARAM'], 'non-boolean'],
            [(p) => { p.ContextSize = r.pick([0x10000, NaN, -8]); }, ['PARAM'], 'non-u16'],
            [(p) => { p.PoolTag = fz.badNumber(r); }, ['PARAM'], 'non-u32'],
            [(p) => { p.DataSize = fz.badNumber(r); p.fAllocateNetBuffer = true; }, ['PARAM'], 'non-u32'],
          ]);
          mut(params);
          fz.bad(fz.call('NdisAllocateNetBufferListPool', [h, params]), rules, () => rt.NdisAllocateNetBufferListPool(h, params), [], defect);
          return;
        }
        if (v === 1) {
          const [args, rules, defect] = r.pick([
            [[fz.badNumber(r), params], ['PARAM'], 'non-u32'],
            [[h, r.pick([null, 3])], ['PARAM'], 'non-object'],
            [[fz.badPtr(r, OWNER_KINDS, { noNull: true }).v, { ...params, ProtocolId: 0 }], PTR_RULES, 'bad owner'],
          ]);
          fz.bad(fz.call('NdisAllocateNetBufferListPool', args), rules, () => rt.NdisAllocateNetBufferListPool(...args), [], defect);
          return;
        }
        const p = fz.ok(fz.call('NdisAllocateNetBufferListPool', [h, params]), () => rt.NdisAllocateNetBufferListPool(h, params));
        const allocNb = params.fAllocateNetBuffer === true || params.fAllocateNetBuffer === 1;
        const { objSize } = nblGeometry(params.ContextSize, allocNb, params.DataSize);
        if (objSize > 0xfff00000) return fz.eq('NdisAllocateNetBufferListPool with objects beyond the address space', p, 0);
        if (p === 0) return fz.allocFailed('NdisAllocateNetBufferListPool');
        addNblPool(fz, p, params.PoolTag, params.ContextSize, allocNb, params.DataSize, params.ProtocolId, owner);
      },
    },
    {
      name: 'nbl.freePool', w: 1,
      run(fz, r) {
        const rt = fz.rt;
        const p = fz.any(r, 'nblPool', (x) => !x.drv);
        const v = r.int(6);
        if (p && p.count > 0 && v < 3) {
          fz.bad(fz.call('NdisFreeNetBufferListPool', [p.addr]), ['POOL-5'], () => rt.NdisFreeNetBufferListPool(p.addr), [p], 'pool with objects');
          return;
        }
        if (!p || v === 3) {
          const { v: x, how } = r.chance(0.85) ? fz.badPtr(r, ['nblPool']) : { v: fz.badNumber(r), how: 'non-u32' };
          fz.bad(fz.call('NdisFreeNetBufferListPool', [x]), how === 'non-u32' ? ['PARAM'] : PTR_RULES, () => rt.NdisFreeNetBufferListPool(x), [], how);
          return;
        }
        if (p.count > 0) return;
        nblArea.freePool(fz, p);
      },
    },
    {
      name: 'nbl.alloc', w: 6,
      run(fz, r) {
        const rt = fz.rt;
        const pool = fz.any(r, 'nblPool', (p) => !p.drv);
        const ctxSize = Math.min(0xfff8, r.weighted([[4, 0], [3, 8 * r.range(0, 8)], [1, r.pick([pool?.ctx ?? 0, (pool?.ctx ?? 0) + 8, 0xfff8])]]));
        const backFill = r.weighted([[5, 0], [2, 8 * r.range(1, 8)], [0.5, 0xfff8]]);
        const v = r.int(12);
        if (!pool || v === 0) {
          const { v: x, how } = fz.badPtr(r, ['nblPool']);
          fz.bad(fz.call('NdisAllocateNetBufferList', [x, 0, 0]), PTR_RULES, () => rt.NdisAllocateNetBufferList(x, 0, 0), [], how);
          return;
        }
        if (v === 1) {
          const args = [pool.addr, ctxSize, backFill];
          const i = r.range(1, 2);
          const [x, rules] = r.pick([[r.pick([1, 4, 12, 0xfffc]), ['CTX-ALIGN']], [r.pick([0x10000, -8, 8.5]), ['PARAM']], [fz.badNumber(r), ['PARAM']]]);
          args[i] = x;
          fz.bad(fz.call('NdisAllocateNetBufferList', args), rules, () => rt.NdisAllocateNetBufferList(...args), [pool], 'bad context size');
          return;
        }
        if (v === 2) {
          // NdisAllocateNetBufferAndNetBufferList.
          nblArea.allocWithNb(fz, r, pool, ctxSize, backFill);
          return;
        }
        const nbl = fz.ok(fz.call('NdisAllocateNetBufferList', [pool.addr, ctxSize, backFill]), () => rt.NdisAllocateNetBufferList(pool.addr, ctxSize, backFill));
        if (ctxSize > pool.ctx && ctxSize + backFill > 0xffff) return fz.eq('NdisAllocateNetBufferList with a context above 0xFFFF bytes', nbl, 0);
        if (nbl === 0) return fz.allocFailed('NdisAllocateNetBufferList');
        const o = addNbl(fz, pool, nbl, ctxSize, backFill, rt.NET_BUFFER_LIST_CONTEXT(nbl));
        nblArea.fresh(fz, o);
      },
    },
    {
      name: 'nbl.free', w: 5,
      run(fz, r) {
        const rt = fz.rt;
        const v = r.int(10);
        if (v === 0) {
          const n = fz.any(r, 'nbl', (x) => !x.drv && !ctxAtBase(x));
          if (n) {
            fz.bad(fz.call('NdisFreeNetBufferList', [n.addr]), ['NBL-FREE-2'], () => rt.NdisFreeNetBufferList(n.addr), [n], 'NBL with context added');
            return;
          }
        }
        if (v <= 2) {
          const { v: x, how } = r.chance(0.85) ? fz.badPtr(r, ['nbl']) : { v: fz.badNumber(r), how: 'non-u32' };
          fz.bad(fz.call('NdisFreeNetBufferList', [x]), how === 'non-u32' ? ['PARAM'] : PTR_RULES, () => rt.NdisFreeNetBufferList(x), [], how);
          return;
        }
        const n = fz.any(r, 'nbl', (x) => !x.drv);
        if (!n) return;
        if (!ctxAtBase(n)) nblArea.popContext(fz, n);
        nblArea.freeNbl(fz, n);
      },
    },
    {
      name: 'nbl.chain', w: 4,
      run(fz, r) {
        const rt = fz.rt;
        const nbls = fz.all('nbl', (x) => !x.drv);
        if (!nbls.length) return;
        const v = r.int(12);
        if (v <= 3) {
          // Link: Next to another NBL (loops allowed), or unlink.
          const n = r.pick(nbls);
          const other = r.chance(0.25) ? null : r.pick(nbls);
          if (other === n) {
            fz.bad(fz.call('NET_BUFFER_LIST_NEXT_NBL_SET', [n.addr, n.addr]), ['PARAM'], () => rt.NET_BUFFER_LIST_NEXT_NBL_SET(n.addr, n.addr), [n], 'self link');
            return;
          }
          const next = other ? other.addr : 0;
          fz.ok(fz.call('NET_BUFFER_LIST_NEXT_NBL_SET', [n.addr, next]), () => rt.NET_BUFFER_LIST_NEXT_NBL_SET(n.addr, next));
          n.next = next;
          return;
        }
        if (v === 4) {
          const n = r.pick(nbls);
          const { v: x, how } = fz.badPtr(r, ['nbl'], { noNull: true });
          fz.bad(fz.call('NET_BUFFER_LIST_NEXT_NBL_SET', [n.addr, x]), PTR_RULES, () => rt.NET_BUFFER_LIST_NEXT_NBL_SET(n.addr, x), [n], how);
          return;
        }
        const head = r.chance(0.1) ? 0 : r.pick(nbls).addr;
        if (v === 5 || v === 6) {
          const c = nbCountRules(fz, head);
          const fn = v === 5 ? 'countNetBufferLists' : 'countNetBuffers';
          const rules = v === 5 ? nblChainRules(fz, head, false).rules : c.rules;
          if (rules) fz.bad(fz.call(fn, [head]), rules, () => rt[fn](head), [], 'bad chain');
          else fz.eq(`${fn}(${fz.fmt(head)})`, fz.ok(fz.call(fn, [head]), () => rt[fn](head)), v === 5 ? c.nbls.length : c.count);
          return;
        }
        if (v === 7) {
          const c = nblChainRules(fz, head, false);
          const got = [];
          const limit = c.nbls.length + 4;
          const walk = () => {
            for (const x of rt.nblChain(head)) {
              got.push(x);
              if (got.length > limit) throw fz.fail(`nblChain(${fz.fmt(head)}) is still iterating after ${got.length} NBLs: it does not detect that the chain loops (countNetBufferLists reports PARAM)`);
            }
          };
          // Known bug (report): the iterator never ends on a looping chain.
          if (c.why === 'NBL chain loops' && fz.cfg.knownBugs === false) return;
          if (c.rules) {
            // The iterator checks each NBL as reached: the live prefix comes out first.
            fz.bad(fz.call('nblChain', [head]), c.rules, walk, [], 'bad chain');
            return;
          }
          fz.ok(fz.call('nblChain', [head]), walk);
          fz.eq(`nblChain(${fz.fmt(head)}) length`, got.length, c.nbls.length);
          got.forEach((x, i) => fz.eq(`nblChain element ${i}`, x, c.nbls[i].addr));
          return;
        }
        if (v === 8) {
          const { v: x, how } = r.chance(0.8) ? fz.badPtr(r, ['nbl'], { noNull: true }) : { v: fz.badNumber(r), how: 'non-u32' };
          const fn = r.pick(['countNetBufferLists', 'countNetBuffers', 'freeNetBufferListChain']);
          // Known bug (report): in verifier mode freeNetBufferListChain(a BigInt) is a TypeError.
          if (typeof x === 'bigint' && fn === 'freeNetBufferListChain' && fz.cfg.verifier && fz.cfg.knownBugs === false) return;
          fz.bad(fz.call(fn, [x]), how === 'non-u32' ? ['PARAM'] : PTR_RULES, () => rt[fn](x), [], how);
          return;
        }
        // freeNetBufferListChain: all or nothing.
        const c = nblChainRules(fz, head, true);
        if (c.rules) {
          // A chain with context added that also loops (or runs into a dead NBL) may be reported
          // either way: the runtime walks the whole chain first while any NBL is away (OWN-1).
          const plain = nblChainRules(fz, head, false).rules ?? [];
          fz.bad(fz.call('freeNetBufferListChain', [head]), c.rules.concat(plain), () => rt.freeNetBufferListChain(head), c.nbls, c.why);
          return;
        }
        if (c.nbls.some((n) => n.drv)) return;
        if (!unlinkOutside(fz, c.nbls)) return;
        for (const n of c.nbls) nblArea.verifyNbl(fz, n, 'before chain free');
        const got = fz.ok(fz.call('freeNetBufferListChain', [head]), () => rt.freeNetBufferListChain(head));
        fz.eq('freeNetBufferListChain count', got, c.nbls.length);
        for (const n of c.nbls) releaseNbl(fz, n);
      },
    },
    {
      name: 'nbl.context', w: 4,
      run(fz, r) {
        const rt = fz.rt;
        const n = fz.any(r, 'nbl', (x) => !x.drv);
        if (!n) return;
        const v = r.int(10);
        const t = top(n);
        if (v <= 3) {
          // Allocate context space.
          const size = r.weighted([[4, 4 * r.range(0, 8)], [1, 4 * r.range(9, 64)], [0.3, 0xfffc]]);
          const back = r.weighted([[4, 0], [2, 4 * r.range(1, 8)], [0.3, 0xfffc]]);
          const tag = r.pick(TAGS);
          if (r.chance(0.15)) {
            const args = [n.addr, size, back, tag];
            const i = r.range(1, 3);
            const [x, rules] = i === 3 ? [fz.badNumber(r), ['PARAM']] : r.pick([[r.pick([1, 2, 6, 0xfffe]), ['CTX-ALIGN']], [r.pick([0x10000, NaN, -4]), ['PARAM']]]);
            args[i] = x;
            fz.bad(fz.call('NdisAllocateNetBufferListContext', args), rules, () => rt.NdisAllocateNetBufferListContext(...args), [n], 'bad context size');
            return;
          }
          const s = fz.ok(fz.call('NdisAllocateNetBufferListContext', [n.addr, size, back, hex(tag)]), () => rt.NdisAllocateNetBufferListContext(n.addr, size, back, tag));
          if (t && t.offset >= size) {
            fz.eq('NdisAllocateNetBufferListContext status', s, 0);
            t.offset -= size;
          } else if (size + back > 0xffff) {
            fz.eq('NdisAllocateNetBufferListContext status (context above 0xFFFF bytes)', s, 0xc000009a | 0);
          } else if (s !== 0) {
            fz.eq('NdisAllocateNetBufferListContext status', s, 0xc000009a | 0);
            fz.allocFailed('NdisAllocateNetBufferListContext');
          } else {
            const addr = rt.NET_BUFFER_LIST_CONTEXT(n.addr);
            const obj = fz.add({ kind: 'ctx', addr, size: 8 + size + back, len: 8 + size + back, tag });
            fz.counters.memAlloc(tag, 'Memory', 8 + size + back);
            n.ctx.push({ addr, size: size + back, offset: back, pushed: true, obj });
          }
          nblArea.verifyNbl(fz, n, 'after NdisAllocateNetBufferListContext');
          return;
        }
        if (v <= 6) {
          // Free context space: valid amounts, or more than the rules allow.
          let size;
          let rules = null;
          if (!t) {
            size = 4 * r.range(0, 4);
            rules = ['NBL-FREE-2'];
          } else {
            const room = t.pushed ? t.size - t.offset : n.baseOffset - t.offset;
            if (r.chance(0.25) || room < 0) {
              size = 4 * Math.ceil((Math.max(room, 0) + 1) / 4) + 4 * r.int(3);
              rules = ['NBL-FREE-2'];
            } else size = 4 * r.int(Math.floor(room / 4) + 1);
          }
          if (r.chance(0.1)) {
            const x = r.pick([1, 2, 6, 0x10000, NaN]);
            fz.bad(fz.call('NdisFreeNetBufferListContext', [n.addr, x]), typeof x === 'number' && x < 0x10000 && x > 0 ? ['CTX-ALIGN'] : ['PARAM'], () => rt.NdisFreeNetBufferListContext(n.addr, x), [n], 'bad context size');
            return;
          }
          if (size > 0xffff) rules = ['PARAM'];
          if (rules) {
            fz.bad(fz.call('NdisFreeNetBufferListContext', [n.addr, size]), rules, () => rt.NdisFreeNetBufferListContext(n.addr, size), [n], 'free more context than in use');
            return;
          }
          fz.ok(fz.call('NdisFreeNetBufferListContext', [n.addr, size]), () => rt.NdisFreeNetBufferListContext(n.addr, size));
          t.offset += size;
          if (t.pushed && t.offset === t.size) {
            n.ctx.pop();
            fz.counters.memFree(t.obj.tag, 'Memory', t.obj.len);
            fz.remove(t.obj);
          }
          nblArea.verifyNbl(fz, n, 'after NdisFreeNetBufferListContext');
          return;
        }
        if (v === 7) {
          if (!t) {
            fz.bad(fz.call('NET_BUFFER_LIST_CONTEXT_DATA_START', [n.addr]), ['PARAM'], () => rt.NET_BUFFER_LIST_CONTEXT_DATA_START(n.addr), [n], 'no context');
            return;
          }
          fz.eq(`NET_BUFFER_LIST_CONTEXT_DATA_START(${n.name})`, rt.NET_BUFFER_LIST_CONTEXT_DATA_START(n.addr), t.addr + 8 + t.offset);
          return;
        }
        const fn = r.pick(['NdisAllocateNetBufferListContext', 'NdisFreeNetBufferListContext', 'NET_BUFFER_LIST_CONTEXT_DATA_START']);
        const { v: x, how } = fz.badPtr(r, ['nbl']);
        fz.bad(fz.call(fn, [x, 8, 0, 1]), PTR_RULES, () => rt[fn](x, 8, 0, 1), [], how);
      },
    },
    {
      name: 'nbl.fields', w: 4,
      run(fz, r) {
        const rt = fz.rt;
        const n = fz.any(r, 'nbl', (x) => !x.drv);
        const v = r.int(14);
        if (!n || v === 0) {
          const fn = r.pick(NBL_GETTERS);
          const { v: x, how } = r.chance(0.85) ? fz.badPtr(r, ['nbl']) : { v: fz.badNumber(r), how: 'non-u32' };
          fz.bad(fz.call(fn, [x]), how === 'non-u32' ? ['PARAM'] : PTR_RULES, () => rt[fn](x), [], how);
          return;
        }
        const set = (fn, args, apply) => {
          fz.ok(fz.call(fn, args), () => rt[fn](...args));
          apply();
          nblArea.verifyNbl(fz, n, `after ${fn}`);
        };
        switch (v) {
          case 1: {
            const s = r.pick([0, 0x103, 0xc0000001 | 0, 0xc000009a, r.u32(), -1, -0x80000000]);
            return set('NET_BUFFER_LIST_STATUS_SET', [n.addr, s], () => { n.status = s | 0; });
          }
          case 2: {
            const fn = r.pick(['NET_BUFFER_LIST_FLAGS_SET', 'NET_BUFFER_LIST_NBL_FLAGS_SET', 'NET_BUFFER_LIST_SOURCE_HANDLE_SET']);
            const x = r.u32();
            return set(fn, [n.addr, x], () => {
              if (fn === 'NET_BUFFER_LIST_FLAGS_SET') n.flags = x;
              else if (fn === 'NET_BUFFER_LIST_NBL_FLAGS_SET') n.nblFlags = x;
              else n.src = x;
            });
          }
          case 3: {
            const id = r.int(13);
            const x = r.u32();
            return set('NET_BUFFER_LIST_INFO_SET', [n.addr, id, x], () => { n.info[id] = x; });
          }
          case 4: {
            const id = r.int(256);
            return set('NdisSetNetBufferListProtocolId', [n.addr, id], () => { n.info[7] = id; });
          }
          case 5: {
            // Attach NBs: an NB list of pool NBs (or the preallocated one back), or none.
            const nb = r.chance(0.2) ? null : r.chance(0.3) && n.pre ? n.pre : fz.any(r, 'nb', (x) => x.sub !== 'pre');
            const a = nb ? nb.addr : 0;
            return set('NET_BUFFER_LIST_FIRST_NB_SET', [n.addr, a], () => { n.firstNb = a; });
          }
          case 6: {
            const [fn, args, rules] = r.pick([
              ['NET_BUFFER_LIST_INFO', [n.addr, r.pick([13, 14, -1, NaN, 1.5])], ['PARAM']],
              ['NET_BUFFER_LIST_INFO_SET', [n.addr, r.pick([13, 100, NaN]), 1], ['PARAM']],
              ['NET_BUFFER_LIST_INFO_SET', [n.addr, 0, fz.badNumber(r)], ['PARAM']],
              ['NdisSetNetBufferListProtocolId', [n.addr, r.pick([256, -1, NaN, '1'])], ['PARAM']],
              ['NET_BUFFER_LIST_STATUS_SET', [n.addr, r.pick([2 ** 32, -0x80000001, 1.5, NaN, '0'])], ['PARAM']],
              [r.pick(['NET_BUFFER_LIST_FLAGS_SET', 'NET_BUFFER_LIST_NBL_FLAGS_SET', 'NET_BUFFER_LIST_SOURCE_HANDLE_SET']), [n.addr, fz.badNumber(r)], ['PARAM']],
              ['NET_BUFFER_LIST_FIRST_NB_SET', [n.addr, fz.badPtr(r, ['nb'], { noNull: true }).v], PTR_RULES],
            ]);
            return fz.bad(fz.call(fn, args), rules, () => rt[fn](...args), [n], 'bad field value');
          }
          case 7: {
            // NDIS_SET/GET_NET_BUFFER_LIST_CANCEL_ID check the NBL chain from here.
            const c = nblChainRules(fz, n.addr, false);
            const id = r.u32();
            if (c.rules) {
              fz.bad(fz.call('NDIS_SET_NET_BUFFER_LIST_CANCEL_ID', [n.addr, id]), c.rules, () => rt.NDIS_SET_NET_BUFFER_LIST_CANCEL_ID(n.addr, id), [n], c.why);
              return;
            }
            set('NDIS_SET_NET_BUFFER_LIST_CANCEL_ID', [n.addr, id], () => { n.info[5] = id; });
            fz.eq('NDIS_GET_NET_BUFFER_LIST_CANCEL_ID', rt.NDIS_GET_NET_BUFFER_LIST_CANCEL_ID(n.addr), id);
            return;
          }
          default:
            nblArea.verifyNbl(fz, n, 'accessors');
        }
      },
    },
  ],

  /** NdisAllocateNetBufferAndNetBufferList: one NB over a caller chain. */
  allocWithNb(fz, r, pool, ctxSize, backFill) {
    const rt = fz.rt;
    const head = r.chance(0.25) ? null : fz.any(r, 'mdl', (m) => m.sub === 'caller');
    const chain = head ? head.addr : 0;
    const w = chainWalk(fz, chain);
    let off = 0;
    let len = 0;
    if (!w.err && w.total) {
      off = r.int(w.total + 1);
      len = r.int(w.total - off + 1);
    }
    let rules = null;
    let defect = '';
    if (!pool.allocNb || pool.ds) [rules, defect] = [['POOL-3'], 'pool without fAllocateNetBuffer or with DataSize'];
    else if (w.err === 'loop') [rules, defect] = [['NB-CONS'], 'MDL chain loops'];
    else if (w.err === 'dead') [rules, defect] = [PTR_RULES, 'bad MDL in chain'];
    else if (r.chance(0.1)) {
      if (chain === 0) [off, len, rules, defect] = [1, 1, ['NB-ARGS'], 'NULL chain with data'];
      else [off, len, rules, defect] = [w.total, 1, ['NB-CONS'], 'beyond the chain'];
    }
    const args = [pool.addr, ctxSize, backFill, chain, off, len];
    if (rules) {
      fz.bad(fz.call('NdisAllocateNetBufferAndNetBufferList', args), rules, () => rt.NdisAllocateNetBufferAndNetBufferList(...args), [pool], defect);
      return;
    }
    const nbl = fz.ok(fz.call('NdisAllocateNetBufferAndNetBufferList', args), () => rt.NdisAllocateNetBufferAndNetBufferList(...args));
    if (ctxSize > pool.ctx && ctxSize + backFill > 0xffff) return fz.eq('NdisAllocateNetBufferAndNetBufferList with a context above 0xFFFF bytes', nbl, 0);
    if (nbl === 0) return fz.allocFailed('NdisAllocateNetBufferAndNetBufferList');
    const o = addNbl(fz, pool, nbl, ctxSize, backFill, rt.NET_BUFFER_LIST_CONTEXT(nbl));
    Object.assign(o.pre.f, { chain, off, len });
    adjustCurrent(o.pre, w.mdls);
    nblArea.fresh(fz, o);
  },

  /** Checks a fresh NBL (and its NB) and writes the reserved-area patterns. */
  fresh(fz, n) {
    fz.checkZero(n.addr + 0x20, 24, `${n.name} ProtocolReserved/MiniportReserved (fresh)`);
    fz.fillPattern(n.addr + 0x20, 24, n.seed);
    if (n.pre) initReserved(fz, n.pre);
    nblArea.verifyNbl(fz, n, 'fresh');
    if (n.pre) fz.verify(n.pre, 'fresh');
  },

  /** Gives back context added by NdisAllocateNetBufferListContext (so the NBL can be freed). */
  popContext(fz, n) {
    const rt = fz.rt;
    while (!ctxAtBase(n)) {
      const t = top(n);
      const size = t.pushed ? t.size - t.offset : n.baseOffset - t.offset;
      fz.ok(fz.call('NdisFreeNetBufferListContext', [n.addr, size]), () => rt.NdisFreeNetBufferListContext(n.addr, size));
      t.offset += size;
      if (t.pushed) {
        n.ctx.pop();
        fz.counters.memFree(t.obj.tag, 'Memory', t.obj.len);
        fz.remove(t.obj);
      }
    }
  },

  freeNbl(fz, n) {
    if (!unlinkOutside(fz, [n])) return false;
    nblArea.verifyNbl(fz, n, 'before free');
    fz.ok(fz.call('NdisFreeNetBufferList', [n.addr]), () => fz.rt.NdisFreeNetBufferList(n.addr));
    releaseNbl(fz, n);
    return true;
  },

  freePool(fz, p) {
    fz.ok(fz.call('NdisFreeNetBufferListPool', [p.addr]), () => fz.rt.NdisFreeNetBufferListPool(p.addr));
    fz.retire(p.key);
    if (p.owner) p.owner.owned--;
    fz.remove(p);
  },

  verify(fz, o, when) {
    if (o.kind === 'nbl') return nblArea.verifyNbl(fz, o, when), true;
    return o.kind === 'nblPool' || o.kind === 'ctx';
  },

  verifyNbl(fz, n, when) {
    const rt = fz.rt;
    const w = `${n.name} (${when})`;
    const t = top(n);
    // The driver model relinks the NBLs it passes to handlers: Next of a driver NBL is not modelled.
    if (!n.drv) fz.eq(`NET_BUFFER_LIST_NEXT_NBL(${w})`, rt.NET_BUFFER_LIST_NEXT_NBL(n.addr), n.next);
    fz.eq(`NET_BUFFER_LIST_FIRST_NB(${w})`, rt.NET_BUFFER_LIST_FIRST_NB(n.addr), n.firstNb);
    fz.eq(`NET_BUFFER_LIST_STATUS(${w})`, rt.NET_BUFFER_LIST_STATUS(n.addr), n.status);
    fz.eq(`NET_BUFFER_LIST_FLAGS(${w})`, rt.NET_BUFFER_LIST_FLAGS(n.addr), n.flags);
    fz.eq(`NET_BUFFER_LIST_NBL_FLAGS(${w})`, rt.NET_BUFFER_LIST_NBL_FLAGS(n.addr), n.nblFlags);
    fz.eq(`NET_BUFFER_LIST_SOURCE_HANDLE(${w})`, rt.NET_BUFFER_LIST_SOURCE_HANDLE(n.addr), n.src);
    for (let i = 0; i < 13; i++) fz.eq(`NET_BUFFER_LIST_INFO(${w}, ${i})`, rt.NET_BUFFER_LIST_INFO(n.addr, i), n.info[i]);
    fz.eq(`NdisGetNetBufferListProtocolId(${w})`, rt.NdisGetNetBufferListProtocolId(n.addr), n.info[7] & 0xff);
    fz.eq(`NdisGetPoolFromNetBufferList(${w})`, rt.NdisGetPoolFromNetBufferList(n.addr), n.pool.addr);
    fz.eq(`NET_BUFFER_LIST_CONTEXT(${w})`, rt.NET_BUFFER_LIST_CONTEXT(n.addr), t ? t.addr : 0);
    fz.eq(`NET_BUFFER_LIST_CONTEXT_DATA_SIZE(${w})`, rt.NET_BUFFER_LIST_CONTEXT_DATA_SIZE(n.addr), t ? t.size : 0);
    if (t) fz.eq(`NET_BUFFER_LIST_CONTEXT_DATA_START(${w})`, rt.NET_BUFFER_LIST_CONTEXT_DATA_START(n.addr), t.addr + 8 + t.offset);
    fz.eq(`NET_BUFFER_LIST_PROTOCOL_RESERVED(${w})`, rt.NET_BUFFER_LIST_PROTOCOL_RESERVED(n.addr), n.addr + 0x20);
    fz.eq(`NET_BUFFER_LIST_MINIPORT_RESERVED(${w})`, rt.NET_BUFFER_LIST_MINIPORT_RESERVED(n.addr), n.addr + 0x30);
    if (!n.drv) fz.checkPattern(n.addr + 0x20, 24, n.seed, `${w} ProtocolReserved/MiniportReserved`);
  },

  check(fz, r) {
    const n = fz.randomLive(r, (x) => x.kind === 'nbl');
    if (n) nblArea.verifyNbl(fz, n, 'sample');
  },

  deep(fz, report) {
    for (const p of fz.all('nblPool')) {
      const row = report.get(p.addr);
      if (!row) throw fz.fail(`memoryReport has no pool ${p.name} (${hex(p.addr)})`);
      fz.eq(`memoryReport live of ${p.name}`, row.live, p.count);
    }
  },

  teardown(fz) {
    for (const n of fz.all('nbl', (x) => !x.drv)) {
      if (n.dead) continue;
      nblArea.popContext(fz, n);
      nblArea.freeNbl(fz, n);
    }
    for (const p of fz.all('nblPool', (x) => !x.drv)) nblArea.freePool(fz, p);
  },
};
