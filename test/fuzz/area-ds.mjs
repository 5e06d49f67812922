/**
 * Area "ds": the NET_BUFFER data space (NdisRetreat/AdvanceNetBufferDataStart, their NBL forms,
 * NdisAdjustNetBufferCurrentMdl, NdisGetDataBuffer, NdisCopyFromNetBufferToNetBuffer,
 * NdisQueryNetBufferPhysicalCount), on the NBs of areas nb and nbl.
 *
 * The model (README "Decisions": retreat 1-3, advance and decision 21, NdisGetDataBuffer 14):
 * - retreat by delta <= DataOffset moves DataOffset only; beyond it an MDL of delta + DataBackFill
 *   bytes (the default allocator's, tagged NdRt, or the AllocateMdlHandler's) goes in front and
 *   DataOffset becomes its size + DataOffset - delta; DataLength + delta > 0xFFFFFFFF (or
 *   delta + DataBackFill > 0xFFFFFFFF) is NDIS_STATUS_FAILURE; a failed allocation RESOURCES.
 * - advance by more than DataLength is ADV-1; with FreeMdl the retreat MDLs at the front that are
 *   entirely unused go (never the last one); a handler's MDL needs a FreeMdlHandler (ADV-2).
 * - the NBL forms are all or nothing.
 * The handlers are harness functions: the allocate handler hands out a spare caller MDL (or NULL,
 * or a wrong one to provoke PARAM), the free handler records what it got back.
 */
import { PTR_RULES, ST, TAG } from './core.mjs';
import { addMdl, addRtBuf, mdlPoolKey, chainedTo, freeRtBuf } from './area-mem.mjs';
import { adjustCurrent, chainWalk, nbChainRules } from './area-nb.mjs';
import { nbCountRules, nbList } from './area-nbl.mjs';

/** A caller MDL free to be handed out by an allocate handler: unlinked, unreferenced, big enough. */
function spares(fz, size, exclude) {
  return fz.all('mdl', (m) => m.sub === 'caller' && m.next === 0 && m.len >= size && !exclude.has(m) && !chainedTo(fz, m) && fz.referrers(m.addr).length === 0);
}

/**
 * The allocate handler for one call. `kind`: 'spare' (a fitting caller MDL, NULL when none),
 * 'null', or a defect: 'small' (too few bytes), 'linked' (Next set), 'owned' (a retreat's MDL),
 * 'bogus' (not an MDL). Records what it returned.
 */
function allocHandler(fz, r, kind, nb) {
  const h = {
    calls: [],
    kind,
    fn(box) {
      const size = box.value;
      const used = new Set(h.calls.map((c) => c.m).filter(Boolean));
      let m = null;
      let v = 0;
      if (kind === 'spare') {
        const s = spares(fz, size, used);
        m = s.length ? r.pick(s) : null;
        v = m ? m.addr : 0;
      } else if (kind === 'small') {
        m = fz.any(r, 'mdl', (x) => x.sub === 'caller' && x.next === 0 && x.len < size && !used.has(x) && !chainedTo(fz, x) && fz.referrers(x.addr).length === 0) ?? null;
        v = m ? m.addr : 0;
      } else if (kind === 'linked') {
        m = fz.any(r, 'mdl', (x) => x.sub === 'caller' && x.next !== 0 && x.len >= size && !chainedTo(fz, x)) ?? null;
        v = m ? m.addr : 0;
      } else if (kind === 'owned') {
        m = fz.any(r, 'mdl', (x) => (x.sub === 'rdef' || x.sub === 'rhnd') && x.len >= size) ?? null;
        v = m ? m.addr : 0;
      } else if (kind === 'bogus') {
        v = fz.badPtr(r, ['mdl'], { noNull: true }).v;
      }
      h.calls.push({ size, m, v });
      return v;
    },
  };
  return h;
}

/** The free handler: records the MDLs NDIS gives back. */
function freeHandler() {
  const h = { got: [], fn(m) { h.got.push(m); } };
  return h;
}

/**
 * Model of one NB retreat. Returns { status } and applies the change, or { rules } (a bug check;
 * nothing applied). `h` is the allocate handler (or null), already primed by the runtime call:
 * the model reads what it returned for this NB from `h.calls[i]`.
 */
function retreatModel(fz, nb, delta, backFill, h, callIndex, result) {
  const cr = nbChainRules(fz, nb);
  if (cr.rules) return { rules: cr.rules, why: cr.why };
  const f = nb.f;
  if (f.len + delta > 0xffffffff) return { status: ST.FAILURE };
  if (delta <= f.off) {
    f.off -= delta;
    f.len += delta;
    adjustCurrent(nb, cr.w.mdls);
    return { status: ST.SUCCESS };
  }
  const size = delta + backFill;
  if (size > 0xffffffff) return { status: ST.FAILURE };
  let m;
  if (h) {
    const c = h.calls[callIndex];
    if (!c) return { rules: ['?'], why: 'the allocate handler was not called' };
    if (c.v === 0) return { status: ST.RESOURCES, handlerNull: true };
    if (h.kind === 'bogus') return { rules: PTR_RULES.concat(['PARAM']), why: 'handler returned a bad MDL' };
    m = c.m;
    if (m.len < size || m.next !== 0 || m.sub !== 'caller' || cr.w.mdls.includes(m)) return { rules: ['PARAM'], why: 'handler returned an unusable MDL' };
    m.sub = 'rhnd';
  } else {
    if (size > 0xfff00000) return { status: ST.RESOURCES, deterministic: true };
    if (size > fz.rt.maxMemory) {
      // More than the whole budget: the NdRt allocation fails (and counts the failure, unless
      // an allocation before it failed first: then the model adopts what happened).
      if (fz.mayFail) fz.allocFailed('retreat beyond the budget');
      else fz.counters.memFail(TAG.RETREAT, 'Memory');
      return { status: ST.RESOURCES, deterministic: true };
    }
    if (!result.mdl) return { status: ST.RESOURCES };
    fz.counters.alloc(mdlPoolKey(fz));
    m = addMdl(fz, result.mdl, 'rdef', result.va, size);
    m.buf = addRtBuf(fz, result.va, size);
  }
  m.next = f.chain;
  f.chain = m.addr;
  f.off = m.len + f.off - delta;
  f.len += delta;
  adjustCurrent(nb, chainWalk(fz, f.chain).mdls);
  return { status: ST.SUCCESS, mdl: m };
}

/** Model of one NB advance: { rules } or { apply() → handler MDLs given back }. */
function advanceModel(fz, nb, delta, free, haveHandler) {
  const cr = nbChainRules(fz, nb);
  if (cr.rules) return { rules: cr.rules, why: cr.why };
  const f = nb.f;
  if (delta > f.len) return { rules: ['ADV-1'], why: 'delta > DataLength' };
  let rem = f.off + delta;
  const gone = [];
  if (free) {
    for (const m of cr.w.mdls) {
      if (m.sub !== 'rdef' && m.sub !== 'rhnd') break;
      if (rem < m.len || m.next === 0) break;
      if (m.sub === 'rhnd' && !haveHandler) return { rules: ['ADV-2'], why: "a handler's MDL with no FreeMdlHandler" };
      rem -= m.len;
      gone.push(m);
    }
  }
  return {
    rules: null,
    apply() {
      const back = [];
      f.len -= delta;
      f.off = free ? rem : f.off + delta;
      if (gone.length) f.chain = gone[gone.length - 1].next;
      for (const m of gone) {
        if (m.sub === 'rdef') {
          fz.counters.free(mdlPoolKey(fz));
          freeRtBuf(fz, m.buf);
          fz.remove(m);
        } else {
          m.sub = 'caller';
          m.next = 0;
          back.push(m.addr);
        }
      }
      adjustCurrent(nb, chainWalk(fz, f.chain).mdls);
      return back;
    },
  };
}

function pickDelta(r, nb) {
  const f = nb.f;
  return r.weighted([
    [3, () => r.int(Math.min(f.off, 64) + 1)],
    [4, () => r.range(1, 96)],
    [1, () => f.off + r.range(1, 8)],
    [0.3, () => r.pick([0xffffffff, 0x80000000, 0xfffffff0 - f.len])],
  ])() >>> 0;
}

export const dsArea = {
  name: 'ds',

  ops: [
    {
      name: 'ds.retreat', w: 6,
      run(fz, r) {
        const rt = fz.rt;
        const nb = fz.any(r, 'nb', (n) => !n.pre?.drv && !n.nbl?.drv);
        if (!nb || r.chance(0.06)) {
          const { v: x, how } = fz.badPtr(r, ['nb']);
          fz.bad(fz.call('NdisRetreatNetBufferDataStart', [x, 4, 0]), PTR_RULES, () => rt.NdisRetreatNetBufferDataStart(x, 4, 0), [], how);
          return;
        }
        const delta = pickDelta(r, nb);
        const backFill = r.weighted([[4, 0], [3, r.int(64)], [0.2, 0xffffffff - delta + 1]]) >>> 0;
        if (r.chance(0.06)) {
          const args = [nb.addr, delta, backFill, undefined];
          const i = r.range(1, 3);
          args[i] = i === 3 ? r.pick([5, 'fn', {}]) : fz.badNumber(r);
          fz.bad(fz.call('NdisRetreatNetBufferDataStart', args), ['PARAM'], () => rt.NdisRetreatNetBufferDataStart(...args), [nb], 'non-u32');
          return;
        }
        const hk = r.weighted([[6, 'none'], [3, 'spare'], [1, 'null'], [0.4, 'small'], [0.4, 'linked'], [0.4, 'owned'], [0.3, 'bogus']]);
        const h = hk === 'none' ? null : allocHandler(fz, r, hk, nb);
        const label = fz.call('NdisRetreatNetBufferDataStart', [nb.addr, delta, backFill, h ? `handler:${hk}` : undefined]);
        // Predict whether it throws: simulate on a copy of the NB's fields first.
        const saved = { f: { ...nb.f }, curDirty: nb.curDirty };
        const pre = dsArea.retreatWouldThrow(fz, nb, delta, backFill, hk);
        if (pre) {
          fz.bad(label, pre.rules, () => rt.NdisRetreatNetBufferDataStart(nb.addr, delta, backFill, h?.fn), [nb], pre.why);
          return;
        }
        const chainBefore = nb.f.chain;
        const status = fz.ok(label, () => rt.NdisRetreatNetBufferDataStart(nb.addr, delta, backFill, h?.fn));
        const newHead = rt.NET_BUFFER_FIRST_MDL(nb.addr);
        const allocated = !h && newHead !== chainBefore && status === ST.SUCCESS ? { mdl: newHead, va: rt.MmGetMdlVirtualAddress(newHead) } : {};
        const m = retreatModel(fz, nb, delta, backFill, h, 0, allocated);
        if (m.rules) {
          Object.assign(nb.f, saved.f);
          throw fz.fail(`${label} returned ${status} where the model expects ${m.rules.join('|')} (${m.why})`);
        }
        if (m.status === ST.RESOURCES && !m.deterministic && !m.handlerNull) {
          if (status !== ST.RESOURCES) throw fz.fail(`${label} returned ${status}; the default allocator's MDL is not the new head (model: RESOURCES)`);
          fz.allocFailed('retreat (default allocator)');
        }
        fz.eq(`${label} status`, status, m.status);
        fz.verify(nb, `after ${label}`);
        if (m.mdl) fz.verify(m.mdl, 'retreat MDL');
      },
    },
    {
      name: 'ds.advance', w: 6,
      run(fz, r) {
        const rt = fz.rt;
        const nb = fz.any(r, 'nb', (n) => !n.nbl?.drv);
        if (!nb || r.chance(0.06)) {
          const { v: x, how } = fz.badPtr(r, ['nb']);
          fz.bad(fz.call('NdisAdvanceNetBufferDataStart', [x, 0, true]), PTR_RULES, () => rt.NdisAdvanceNetBufferDataStart(x, 0, true), [], how);
          return;
        }
        const f = nb.f;
        const delta = r.weighted([[4, () => r.int(Math.min(f.len, 128) + 1)], [2, () => f.len], [1, () => f.len + r.range(1, 8)], [0.2, () => 0xffffffff]])() >>> 0;
        const free = r.pick([true, false, 1, 0]);
        const withHandler = r.chance(0.5);
        if (r.chance(0.06)) {
          const args = [nb.addr, delta, free, undefined];
          const i = r.range(1, 3);
          args[i] = i === 1 ? fz.badNumber(r) : i === 2 ? r.pick([2, 'yes', null, undefined, -1]) : r.pick([3, 'f', {}]);
          fz.bad(fz.call('NdisAdvanceNetBufferDataStart', args), ['PARAM'], () => rt.NdisAdvanceNetBufferDataStart(...args), [nb], 'non-u32');
          return;
        }
        const fh = freeHandler();
        const label = fz.call('NdisAdvanceNetBufferDataStart', [nb.addr, delta, free, withHandler ? 'handler' : undefined]);
        const m = advanceModel(fz, nb, delta, !!free, withHandler);
        if (m.rules) {
          fz.bad(label, m.rules, () => rt.NdisAdvanceNetBufferDataStart(nb.addr, delta, free, withHandler ? fh.fn : undefined), [nb], m.why);
          return;
        }
        fz.ok(label, () => rt.NdisAdvanceNetBufferDataStart(nb.addr, delta, free, withHandler ? fh.fn : undefined));
        const back = m.apply();
        fz.eq(`${label}: MDLs given to FreeMdlHandler`, fh.got.join(','), withHandler ? back.join(',') : '');
        fz.verify(nb, `after ${label}`);
      },
    },
    {
      name: 'ds.nblForms', w: 3,
      run(fz, r) {
        const rt = fz.rt;
        const nbl = fz.any(r, 'nbl', (n) => !n.drv);
        if (!nbl || r.chance(0.08)) {
          const { v: x, how } = r.chance(0.85) ? fz.badPtr(r, ['nbl']) : { v: fz.badNumber(r), how: 'non-u32' };
          const fn = r.pick(['NdisRetreatNetBufferListDataStart', 'NdisAdvanceNetBufferListDataStart']);
          fz.bad(fz.call(fn, [x, 0, 0]), how === 'non-u32' ? ['PARAM'] : PTR_RULES, () => rt[fn](x, 0, 0), [], how);
          return;
        }
        // nbsOf: the NBL chain from here and every NB list must be sound (countNetBuffers).
        const cc = nbCountRules(fz, nbl.addr);
        const nbs = cc.rules ? [] : nbList(fz, nbl);
        const targets = [nbl, ...nbs];
        if (r.chance(0.5)) {
          const delta = r.weighted([[3, () => r.int(32)], [3, () => r.range(1, 96)], [0.3, () => 0xffffffff]])() >>> 0;
          const backFill = r.int(48);
          const hk = r.weighted([[5, 'none'], [3, 'spare'], [1, 'null'], [0.5, 'small']]);
          const h = hk === 'none' ? null : allocHandler(fz, r, hk, null);
          const fh = freeHandler();
          const withFree = h && r.chance(0.7);
          const label = fz.call('NdisRetreatNetBufferListDataStart', [nbl.addr, delta, backFill, h ? `handler:${hk}` : undefined, withFree ? 'freeHandler' : undefined]);
          if (cc.rules) {
            fz.bad(label, cc.rules, () => rt.NdisRetreatNetBufferListDataStart(nbl.addr, delta, backFill, h?.fn, withFree ? fh.fn : undefined), targets, cc.why);
            return;
          }
          // Every NB's chain is checked before any NB moves (NB-CONS): all or nothing, and no
          // MDL is allocated for an earlier NB when a later one is inconsistent.
          const bad = nbs.map((nb) => nbChainRules(fz, nb)).find((c) => c.rules);
          if (bad) {
            fz.bad(label, bad.rules, () => rt.NdisRetreatNetBufferListDataStart(nbl.addr, delta, backFill, h?.fn, withFree ? fh.fn : undefined), targets, `NBL form: ${bad.why}`);
            return;
          }
          // Throw prediction NB by NB: the runtime stops at the first NB that does not succeed.
          const size = delta + backFill;
          let spareLeft = hk === 'spare' ? spares(fz, size, new Set()).length : 0;
          let uncertain = false;
          let allocatedBefore = false;
          for (const nb of nbs) {
            const p = dsArea.retreatWouldThrow(fz, nb, delta, backFill, hk);
            if (p) {
              if (uncertain) return; // an earlier allocation may fail (exhaustion / faults) first
              // Known bug, open: the rollback of default MDLs shows in poolmon (their allocs and
              // frees stay counted). Skipped until it is fixed (README "Limits").
              if (allocatedBefore && fz.cfg.knownBugs === false) return;
              fz.bad(label, p.rules, () => rt.NdisRetreatNetBufferListDataStart(nbl.addr, delta, backFill, h?.fn, withFree ? fh.fn : undefined), targets, `NBL form: ${p.why}`);
              return;
            }
            const f = nb.f;
            if (f.len + delta > 0xffffffff) break;
            if (delta <= f.off) continue;
            if (size > 0xffffffff || hk === 'null' || hk === 'small' || hk === 'linked' || hk === 'owned') break;
            if (hk === 'spare' && spareLeft-- <= 0) break;
            if (hk === 'none' && size > Math.min(0xfff00000, fz.rt.maxMemory)) break;
            if (hk === 'none' && fz.mayFail) uncertain = true;
            if (hk === 'none') allocatedBefore = true;
          }
          const heads = nbs.map((nb) => nb.f.chain);
          const status = fz.ok(label, () => rt.NdisRetreatNetBufferListDataStart(nbl.addr, delta, backFill, h?.fn, withFree ? fh.fn : undefined));
          dsArea.replayNblRetreat(fz, label, nbs, heads, delta, backFill, h, withFree ? fh : null, status);
          for (const t of targets) fz.verify(t, `after ${label}`);
          return;
        }
        const delta = r.weighted([[4, () => r.int(24)], [1, () => r.range(24, 200)]])();
        const free = r.chance(0.6);
        const withHandler = r.chance(0.5);
        const fh = freeHandler();
        const label = fz.call('NdisAdvanceNetBufferListDataStart', [nbl.addr, delta, free, withHandler ? 'handler' : undefined]);
        if (cc.rules) {
          fz.bad(label, cc.rules, () => rt.NdisAdvanceNetBufferListDataStart(nbl.addr, delta, free, withHandler ? fh.fn : undefined), targets, cc.why);
          return;
        }
        const models = nbs.map((nb) => advanceModel(fz, nb, delta, free, withHandler));
        const badOne = models.find((m) => m.rules);
        if (badOne) {
          fz.bad(label, badOne.rules, () => rt.NdisAdvanceNetBufferListDataStart(nbl.addr, delta, free, withHandler ? fh.fn : undefined), targets, `NBL form: ${badOne.why}`);
          return;
        }
        fz.ok(label, () => rt.NdisAdvanceNetBufferListDataStart(nbl.addr, delta, free, withHandler ? fh.fn : undefined));
        const back = models.flatMap((m) => m.apply());
        fz.eq(`${label}: MDLs given to FreeMdlHandler`, fh.got.join(','), withHandler ? back.join(',') : '');
        for (const t of targets) fz.verify(t, `after ${label}`);
      },
    },
    {
      // NBL retreat whose first NB needs a new MDL and whose last NB is inconsistent (NB-CONS):
      // all or nothing, and a throw leaves every counter as it was (README "Errors").
      name: 'ds.nblRollback', w: 0.6,
      run(fz, r) {
        const rt = fz.rt;
        if (fz.cfg.knownBugs === false || fz.mayFail) return;
        const nbl = fz.any(r, 'nbl', (n) => !n.drv && !!n.firstNb && !nbCountRules(fz, n.addr).rules);
        if (!nbl) return;
        const nbs = nbList(fz, nbl);
        if (nbs.some((nb) => nbChainRules(fz, nb).rules)) return;
        const first = nbs[0];
        const last = nbs[nbs.length - 1];
        const x = fz.any(r, 'nb', (nb) => !nb.nbl?.drv && !nbs.includes(nb) && nb.f.next === 0 && fz.referrers(nb.addr).length === 0 && chainWalk(fz, nb.f.chain).mdls.length > 0 && !nbChainRules(fz, nb).rules);
        if (!x) return;
        fz.ok(fz.call('NET_BUFFER_NEXT_NB_SET', [last.addr, x.addr]), () => rt.NET_BUFFER_NEXT_NB_SET(last.addr, x.addr));
        last.f.next = x.addr;
        const bad = chainWalk(fz, x.f.chain).total + 1;
        fz.ok(fz.call('NET_BUFFER_DATA_OFFSET_SET', [x.addr, bad]), () => rt.NET_BUFFER_DATA_OFFSET_SET(x.addr, bad));
        x.f.off = bad;
        x.curDirty = true;
        const delta = first.f.off + 1 + r.int(16);
        if (first.f.len + delta > 0xffffffff) return;
        fz.bad(fz.call('NdisRetreatNetBufferListDataStart', [nbl.addr, delta, 0]), ['NB-CONS'], () => rt.NdisRetreatNetBufferListDataStart(nbl.addr, delta, 0), [nbl, ...nbs, x], 'NBL form: a later NB is inconsistent');
      },
    },
    {
      name: 'ds.getDataBuffer', w: 4,
      run(fz, r) {
        const rt = fz.rt;
        const nb = fz.any(r, 'nb', (n) => !n.nbl?.drv);
        if (!nb || r.chance(0.05)) {
          const { v: x, how } = fz.badPtr(r, ['nb']);
          fz.bad(fz.call('NdisGetDataBuffer', [x, 1, 0, 1, 0]), PTR_RULES, () => rt.NdisGetDataBuffer(x, 1, 0, 1, 0), [], how);
          return;
        }
        if (nb.curDirty) {
          // The driver's CurrentMdl is not where DataOffset says: make it consistent first.
          const cr = nbChainRules(fz, nb);
          if (cr.rules) {
            fz.bad(fz.call('NdisAdjustNetBufferCurrentMdl', [nb.addr]), cr.rules, () => rt.NdisAdjustNetBufferCurrentMdl(nb.addr), [nb], cr.why);
            return;
          }
          fz.ok(fz.call('NdisAdjustNetBufferCurrentMdl', [nb.addr]), () => rt.NdisAdjustNetBufferCurrentMdl(nb.addr));
          adjustCurrent(nb, cr.w.mdls);
          fz.verify(nb, 'after NdisAdjustNetBufferCurrentMdl');
        }
        const f = nb.f;
        const n = r.weighted([[4, () => r.int(Math.min(f.len, 64) + 1)], [1, () => f.len + r.range(0, 4)], [1, () => r.int(256)]])() >>> 0;
        const shift = r.int(14);
        const mul = 1 << shift;
        const alignOff = r.chance(0.6) ? 0 : r.int(mul);
        const blocks = fz.all('mem', (b) => b.role === 'data' && b.len >= n);
        let storage = 0;
        let storageBad = false;
        const sv = r.int(10);
        if (sv < 5 && blocks.length) {
          const b = r.pick(blocks);
          storage = b.addr + r.int(Math.max(1, b.len - n + (n ? 1 : 0)));
        } else if (sv === 5 && n > 0) {
          const small = fz.all('mem', (b) => b.role === 'data' && b.len > 0 && b.len < n);
          if (small.length) {
            storage = r.pick(small).addr;
            storageBad = true;
          }
        }
        const args = [nb.addr, n, storage, mul, alignOff];
        const v = r.int(16);
        if (v === 0) {
          const [i, x, rules] = r.pick([
            [3, r.pick([0, 3, 12, 16384, 0x80000000, NaN, -1]), ['GDB-1']],
            [4, r.pick([mul, mul + 1, NaN, -1, 1.5]), ['GDB-1']],
            [1, fz.badNumber(r), ['PARAM']],
            [2, fz.badNumber(r), ['PARAM']],
          ]);
          args[i] = x;
          fz.bad(fz.call('NdisGetDataBuffer', args), rules, () => rt.NdisGetDataBuffer(...args), [nb], 'bad argument');
          return;
        }
        const label = fz.call('NdisGetDataBuffer', args);
        const cr = nbChainRules(fz, nb);
        if (cr.rules) {
          fz.bad(label, cr.rules, () => rt.NdisGetDataBuffer(...args), [nb], cr.why);
          return;
        }
        if (storageBad) {
          fz.bad(label, ['GDB-1'], () => rt.NdisGetDataBuffer(...args), [nb], 'storage too small');
          return;
        }
        const got = fz.ok(label, () => rt.NdisGetDataBuffer(...args));
        // The model: the first n used bytes contiguous in one MDL and aligned: a pointer there.
        let want = 0;
        if (n <= f.len) {
          const mdls = cr.w.mdls;
          if (!mdls.length) want = n === 0 && storage ? storage : 0;
          else {
            let i = 0;
            let o = f.off;
            while (o >= mdls[i].len && i + 1 < mdls.length) {
              o -= mdls[i].len;
              i++;
            }
            const addr = mdls[i].va + o;
            if (mdls[i].len - o >= n && (addr & (mul - 1)) === alignOff) want = addr;
            else want = storage;
          }
        }
        fz.eq(`${label} result`, got, want);
        fz.verify(nb, `after ${label}`);
      },
    },
    {
      name: 'ds.copy', w: 3,
      run(fz, r) {
        const rt = fz.rt;
        const nbs = fz.all('nb', (n) => !n.nbl?.drv);
        if (nbs.length < 1) return;
        const d = r.pick(nbs);
        const s = r.pick(nbs);
        const dOff = r.weighted([[4, () => r.int(d.f.len + 1)], [1, () => d.f.len + r.range(1, 3)]])() >>> 0;
        const sOff = r.weighted([[4, () => r.int(s.f.len + 1)], [1, () => s.f.len + r.range(1, 3)]])() >>> 0;
        const bytes = r.weighted([[4, () => r.int(128)], [1, () => 0xffffffff]])();
        const box = { value: -1 };
        const args = [d.addr, dOff, bytes, s.addr, sOff, box];
        const v = r.int(14);
        if (v === 0) {
          const [i, x, rules] = r.pick([
            [0, fz.badPtr(r, ['nb']).v, PTR_RULES], [3, fz.badPtr(r, ['nb']).v, PTR_RULES],
            [1, fz.badNumber(r), ['PARAM']], [2, fz.badNumber(r), ['PARAM']], [4, fz.badNumber(r), ['PARAM']], [5, r.pick([undefined, null, 5, {}]), ['PARAM']],
          ]);
          args[i] = x;
          fz.bad(fz.call('NdisCopyFromNetBufferToNetBuffer', args), rules, () => rt.NdisCopyFromNetBufferToNetBuffer(...args), [d, s], 'bad argument');
          return;
        }
        const label = fz.call('NdisCopyFromNetBufferToNetBuffer', args);
        const dr = nbChainRules(fz, d);
        const sr = nbChainRules(fz, s);
        if (dr.rules || sr.rules) {
          fz.bad(label, (dr.rules ?? sr.rules), () => rt.NdisCopyFromNetBufferToNetBuffer(...args), [d, s], (dr.rules ? 'destination: ' + dr.why : 'source: ' + sr.why));
          return;
        }
        const st = fz.ok(label, () => rt.NdisCopyFromNetBufferToNetBuffer(...args));
        if (dOff > d.f.len || sOff > s.f.len) {
          fz.eq(`${label} status`, st, ST.FAILURE);
          fz.eq(`${label} BytesCopied`, box.value, 0);
        } else {
          let n = Math.min(bytes, d.f.len - dOff, s.f.len - sOff);
          if (n > 0 && (!dr.w.mdls.length || !sr.w.mdls.length)) {
            // (knownBugs off) data without an MDL chain: nothing can be located.
            fz.eq(`${label} status (no MDL chain)`, st, ST.FAILURE);
            n = 0;
          }
          fz.eq(`${label} BytesCopied`, box.value, n);
          if (n > 0 || bytes === 0) fz.eq(`${label} status`, st, ST.SUCCESS);
          else if (st !== ST.SUCCESS && st !== ST.FAILURE) throw fz.fail(`${label} returned ${st}`);
        }
        fz.verify(d, `after ${label}`);
        if (s !== d) fz.verify(s, `after ${label}`);
      },
    },
    {
      name: 'ds.physicalCount', w: 1,
      run(fz, r) {
        const rt = fz.rt;
        const nb = fz.any(r, 'nb', (n) => !n.nbl?.drv);
        if (!nb || r.chance(0.1)) {
          const { v: x, how } = fz.badPtr(r, ['nb']);
          fz.bad(fz.call('NdisQueryNetBufferPhysicalCount', [x]), PTR_RULES, () => rt.NdisQueryNetBufferPhysicalCount(x), [], how);
          return;
        }
        const label = fz.call('NdisQueryNetBufferPhysicalCount', [nb.addr]);
        const cr = nbChainRules(fz, nb);
        if (cr.rules) {
          fz.bad(label, cr.rules, () => rt.NdisQueryNetBufferPhysicalCount(nb.addr), [nb], cr.why);
          return;
        }
        const got = fz.ok(label, () => rt.NdisQueryNetBufferPhysicalCount(nb.addr));
        let pages = 0;
        let left = nb.f.len;
        let o = nb.f.off;
        for (const m of cr.w.mdls) {
          if (left === 0) break;
          if (o >= m.len) {
            o -= m.len;
            continue;
          }
          const k = Math.min(m.len - o, left);
          const va = (m.va + o) >>> 0;
          pages += Math.floor(((va & 0xfff) + k + 0xfff) / 4096);
          left -= k;
          o = 0;
        }
        fz.eq(`${label}`, got, pages);
      },
    },
  ],

  /**
   * The model of NdisRetreatNetBufferListDataStart after the runtime returned `status`: NB by NB
   * as retreatOne does; on the first non-success everything done is rolled back (default MDLs
   * allocated and freed again, handler MDLs handed to the FreeMdlHandler, newest first).
   */
  replayNblRetreat(fz, label, nbs, heads, delta, backFill, h, fh, status) {
    const rt = fz.rt;
    let hc = 0;
    let stop = null;
    /** NBs that needed the default allocator before the stop (allocated, then rolled back). */
    let defaults = 0;
    const handlerMdls = [];
    for (const nb of nbs) {
      const f = nb.f;
      if (f.len + delta > 0xffffffff) { stop = ST.FAILURE; break; }
      if (delta <= f.off) continue;
      const size = delta + backFill;
      if (size > 0xffffffff) { stop = ST.FAILURE; break; }
      if (h) {
        const c = h.calls[hc++];
        if (!c) throw fz.fail(`${label}: the allocate handler was called ${h.calls.length} time(s); the model needs more`);
        if (c.v === 0) { stop = ST.RESOURCES; break; }
        handlerMdls.push(c.m);
      } else {
        if (size > 0xfff00000) { stop = ST.RESOURCES; break; }
        if (size > fz.rt.maxMemory) {
          if (fz.mayFail) fz.allocFailed('NBL retreat beyond the budget');
          else fz.counters.memFail(TAG.RETREAT, 'Memory');
          stop = ST.RESOURCES;
          break;
        }
        defaults++;
      }
    }
    if (h && hc !== h.calls.length) throw fz.fail(`${label}: the allocate handler was called ${h.calls.length} time(s), the model expects ${hc}`);
    if (stop === null && status === ST.RESOURCES && !h) {
      // An allocation failed (exhaustion / injected fault) at some NB: all rolled back.
      fz.allocFailed('NBL retreat (default allocator)');
      return;
    }
    if (stop !== null) {
      fz.eq(`${label} status`, status, stop);
      // Rolled back: the model keeps every NB; default MDLs came and went.
      for (let i = 0; i < defaults; i++) {
        fz.counters.alloc(mdlPoolKey(fz));
        fz.counters.free(mdlPoolKey(fz));
        fz.counters.memAlloc(TAG.RETREAT, 'Memory', delta + backFill);
        fz.counters.memFree(TAG.RETREAT, 'Memory', delta + backFill);
      }
      if (fh) fz.eq(`${label}: MDLs given back to FreeMdlHandler on rollback`, fh.got.join(','), handlerMdls.map((m) => m.addr).reverse().join(','));
      return;
    }
    fz.eq(`${label} status`, status, ST.SUCCESS);
    hc = 0;
    nbs.forEach((nb, i) => {
      const head = rt.NET_BUFFER_FIRST_MDL(nb.addr);
      const alloc = !h && head !== heads[i] ? { mdl: head, va: rt.MmGetMdlVirtualAddress(head) } : {};
      const needs = delta > nb.f.off;
      const m = retreatModel(fz, nb, delta, backFill, h, hc, alloc);
      if (h && needs) hc++;
      if (m.rules || m.status !== ST.SUCCESS) throw fz.fail(`${label}: model replay of NB ${i} gives ${m.rules ?? m.status}`);
    });
  },

  /**
   * Whether an NB retreat throws (before anything it changes is kept), and with which rules.
   * `hk` is the allocate handler kind. In the NBL form (`nblForm`) a NULL handler stops the walk
   * before later NBs are looked at.
   */
  retreatWouldThrow(fz, nb, delta, backFill, hk) {
    const cr = nbChainRules(fz, nb);
    if (cr.rules) return { rules: cr.rules, why: cr.why };
    const f = nb.f;
    if (f.len + delta > 0xffffffff || delta <= f.off || delta + backFill > 0xffffffff) return null;
    const size = delta + backFill;
    if (hk === 'small' || hk === 'linked' || hk === 'owned') {
      const exists = hk === 'small'
        ? fz.all('mdl', (x) => x.sub === 'caller' && x.next === 0 && x.len < size && !chainedTo(fz, x) && fz.referrers(x.addr).length === 0).length
        : hk === 'linked'
          ? fz.all('mdl', (x) => x.sub === 'caller' && x.next !== 0 && x.len >= size && !chainedTo(fz, x)).length
          : fz.all('mdl', (x) => (x.sub === 'rdef' || x.sub === 'rhnd') && x.len >= size).length;
      return exists ? { rules: ['PARAM'], why: `handler returns an unusable MDL (${hk})` } : null;
    }
    if (hk === 'bogus') return { rules: PTR_RULES.concat(['PARAM']), why: 'handler returns a bad MDL' };
    return null;
  },

};
