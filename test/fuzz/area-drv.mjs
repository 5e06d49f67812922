/**
 * Area "drv": the NDIS 6 driver model. A small miniport ("FzMp": an NBL pool of receive NBLs per
 * adapter, allocated in MiniportInitializeEx with the adapter handle, sends held until the harness
 * completes them) and a small protocol ("FzPr": opens a binding in BindAdapterHandlerEx, sends
 * NBLs from its own pool, holds receives until the harness returns them) are driven through
 * NdisMRegisterMiniportDriver, NdisRegisterProtocolDriver, runtime.createAdapter,
 * NdisSendNetBufferLists, NdisMSendNetBufferListsComplete, NdisMIndicateReceiveNetBufferLists,
 * NdisReturnNetBufferLists, NdisMPauseComplete, NdisCloseAdapterEx, Adapter.pause/restart/remove,
 * NdisDeregisterProtocolDriver and NdisMDeregisterMiniportDriver, with ownership misuse (OWN-1,
 * OWN-2), wrong handle types and states (DRV-2), leaks at close (LEAK-NBL) and POOL-6.
 *
 * Model objects (all handles are records that can own pools):
 *   miniport {ctx, adapters}
 *   adapter  {drv, A (the Adapter), state, ctxId, rxPool, rx[], held[] (sends at the miniport),
 *             indicated, bindings, pausePending}
 *   dprot    {ctx, protName, txPool, bindings}
 *   binding  {prot, adapter, sends, held (receives it holds)}
 * Driver NBLs are nbl objects with drv = true and `where`: 'prot' (the protocol's, idle), 'sent'
 * (at the miniport), 'mp' (a receive NBL the miniport holds), 'up' (indicated, not yet back).
 */
import { PTR_RULES, ST, CB } from './core.mjs';
import { protocolChars } from './area-mem.mjs';
import { addNblPool, addNbl, releaseNbl } from './area-nbl.mjs';
import { initReserved } from './area-nb.mjs';

const RESOURCES_FLAG = 2;
const TX_TAG = 0x78547a46; // 'FzTx'
const RX_TAG = 0x78527a46; // 'FzRx'

function ctxOf(fz) {
  if (!fz.drvCtx) fz.drvCtx = { next: 1, byCtx: new Map(), serial: 0, initFails: false, inline: false, returnInline: false };
  return fz.drvCtx;
}

/** Relinks `nbls` with NET_BUFFER_LIST_NEXT_NBL_SET (as the owner may); returns the head. */
function link(fz, nbls) {
  const rt = fz.rt;
  nbls.forEach((n, i) => {
    const next = i + 1 < nbls.length ? nbls[i + 1].addr : 0;
    fz.ok(fz.call('NET_BUFFER_LIST_NEXT_NBL_SET', [n.addr, next]), () => rt.NET_BUFFER_LIST_NEXT_NBL_SET(n.addr, next));
  });
  return nbls.length ? nbls[0].addr : 0;
}

/** The NBLs of a chain the runtime handed to a handler (walked through the accessor). */
function walk(fz, head) {
  const out = [];
  for (let a = head; a; a = fz.rt.NET_BUFFER_LIST_NEXT_NBL(a)) {
    const n = fz.live.get(a);
    if (!n || n.kind !== 'nbl') throw fz.fail(`a handler got a chain with ${fz.fmt(a)}, not a live NBL`);
    out.push(n);
    if (out.length > 10000) throw fz.fail('a handler got a chain that loops');
  }
  return out;
}

function miniportChars(fz, over = {}) {
  const c = ctxOf(fz);
  return {
    Header: { Type: 0x8a, Revision: 2, Size: 0x7c },
    MajorNdisVersion: 6,
    MinorNdisVersion: 30,
    InitializeHandlerEx: (h, drvCtx, params) => (CB.n++, drvArea.initialize(fz, h, drvCtx, params)),
    HaltHandlerEx: (ctx) => (CB.n++, drvArea.halt(fz, c.byCtx.get(ctx))),
    PauseHandler: (ctx) => (CB.n++, drvArea.miniportPause(fz, c.byCtx.get(ctx))),
    RestartHandler: (ctx) => { CB.n++; c.byCtx.get(ctx).state = 'running'; return 0; },
    SendNetBufferListsHandler: (ctx, head) => (CB.n++, drvArea.miniportSend(fz, c.byCtx.get(ctx), head)),
    ReturnNetBufferListsHandler: (ctx, head) => (CB.n++, drvArea.miniportReturn(fz, c.byCtx.get(ctx), head)),
    CancelSendHandler: () => { CB.n++; },
    ...over,
  };
}

function driverProtocolChars(fz, name) {
  const c = ctxOf(fz);
  return protocolChars(name, {
    BindAdapterHandlerEx: (pctx, bindContext, params) => (CB.n++, drvArea.bind(fz, c.byCtx.get(pctx), bindContext, params)),
    UnbindAdapterHandlerEx: (_u, bctx) => (CB.n++, drvArea.unbind(fz, c.byCtx.get(bctx))),
    ReceiveNetBufferListsHandler: (bctx, head, _port, n, flags) => (CB.n++, drvArea.receive(fz, c.byCtx.get(bctx), head, n, flags)),
    SendNetBufferListsCompleteHandler: (bctx, head) => (CB.n++, drvArea.sendComplete(fz, c.byCtx.get(bctx), head)),
  });
}

export const drvArea = {
  name: 'drv',

  foreign(fz, rt2) {
    const box = { value: 0 };
    rt2.NdisMRegisterMiniportDriver(0, 'x', 0, {
      Header: { Type: 0x8a, Revision: 1, Size: 0x70 }, MajorNdisVersion: 6, MinorNdisVersion: 0,
      InitializeHandlerEx: () => 0, HaltHandlerEx: () => {}, PauseHandler: () => 0, RestartHandler: () => 0,
      SendNetBufferListsHandler: () => {}, ReturnNetBufferListsHandler: () => {}, CancelSendHandler: () => {},
    }, box);
    fz.foreign.push({ kind: 'miniport', v: box.value });
  },

  // -- the miniport's handlers ------------------------------------------------------------------

  initialize(fz, h, drvCtx, params0) {
    const rt = fz.rt;
    const c = ctxOf(fz);
    const drv = c.byCtx.get(drvCtx);
    const ctxId = c.next++;
    const a = fz.add({ kind: 'adapter', addr: h, size: 4, owned: 0, drv, A: null, state: 'initializing', ctxId, adapterName: params0.AdapterOptions.name, rxPool: null, rx: [], held: [], indicated: 0, bindings: new Set(), pausePending: false, autoComplete: (drvCtx + ctxId) % 4 !== 0 });
    c.byCtx.set(ctxId, a);
    const attrs = { Header: { Type: 0x9e, Revision: 1, Size: 0x28 }, MiniportAdapterContext: ctxId };
    fz.eq('NdisMSetMiniportAttributes', fz.ok(fz.call('NdisMSetMiniportAttributes', [h, attrs]), () => rt.NdisMSetMiniportAttributes(h, attrs)), 0);
    const params = { Header: { Type: 0x80, Revision: 1, Size: 16 }, ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: RX_TAG, DataSize: 64 };
    const pool = fz.ok(fz.call('NdisAllocateNetBufferListPool', [h, params]), () => rt.NdisAllocateNetBufferListPool(h, params));
    if (!pool) {
      fz.allocFailed('receive pool');
      return drvArea.initFailed(fz, a);
    }
    a.rxPool = addNblPool(fz, pool, RX_TAG, 0, true, 64, 0, a, { drv: true });
    const want = 1 + (drvCtx % 5);
    for (let i = 0; i < want; i++) {
      const nbl = fz.ok(fz.call('NdisAllocateNetBufferList', [pool, 0, 0]), () => rt.NdisAllocateNetBufferList(pool, 0, 0));
      if (!nbl) {
        fz.allocFailed('receive NBL');
        return drvArea.initFailed(fz, a);
      }
      const n = addNbl(fz, a.rxPool, nbl, 0, 0, 0, { drv: true, where: 'mp', adapter: a });
      initReserved(fz, n.pre);
      fz.ok(fz.call('NET_BUFFER_LIST_SOURCE_HANDLE_SET', [nbl, h]), () => rt.NET_BUFFER_LIST_SOURCE_HANDLE_SET(nbl, h));
      n.src = h;
      a.rx.push(n);
    }
    if (c.initFails) return drvArea.initFailed(fz, a);
    a.state = 'paused'; // NDIS restarts it (then binds the protocols)
    return ST.SUCCESS;
  },

  /** MiniportInitializeEx fails: it frees what it allocated (the handle must own no pool). */
  initFailed(fz, a) {
    drvArea.freeRx(fz, a);
    a.failed = true;
    return ST.FAILURE;
  },

  freeRx(fz, a) {
    const rt = fz.rt;
    for (const n of a.rx) {
      fz.ok(fz.call('NdisFreeNetBufferList', [n.addr]), () => rt.NdisFreeNetBufferList(n.addr));
      releaseNbl(fz, n);
    }
    a.rx = [];
    if (a.rxPool) {
      fz.ok(fz.call('NdisFreeNetBufferListPool', [a.rxPool.addr]), () => rt.NdisFreeNetBufferListPool(a.rxPool.addr));
      fz.retire(a.rxPool.key);
      a.owned--;
      fz.remove(a.rxPool);
      a.rxPool = null;
    }
  },

  halt(fz, a) {
    if (a.held.length || a.rx.some((n) => n.where !== 'mp')) throw fz.fail(`MiniportHaltEx of ${a.name} with NBLs out`);
    drvArea.freeRx(fz, a);
    a.state = 'halted';
  },

  miniportPause(fz, a) {
    // Complete what it holds, then pend the pause while receives are up.
    if (a.held.length) drvArea.complete(fz, a, a.held.slice());
    a.state = 'pausing';
    if (a.indicated > 0) {
      a.pausePending = true;
      return ST.PENDING;
    }
    a.state = 'paused';
    return ST.SUCCESS;
  },

  miniportSend(fz, a, head) {
    const c = ctxOf(fz);
    const nbls = walk(fz, head);
    for (const n of nbls) {
      if (n.where !== 'sending') throw fz.fail(`${a.name} got ${n.name} to send, which the protocol did not send (${n.where})`);
      n.where = 'sent';
      a.held.push(n);
    }
    if (c.inline) drvArea.complete(fz, a, nbls);
  },

  miniportReturn(fz, a, head) {
    for (const n of walk(fz, head)) {
      if (n.where !== 'up' || n.adapter !== a) throw fz.fail(`${a.name} got back ${n.name}, which it did not indicate (${n.where})`);
      n.where = 'mp';
      a.indicated--;
    }
    // A pended pause ends when the last receive is back (as netvmini does).
    if (a.pausePending && a.indicated === 0 && a.autoComplete) {
      fz.ok(fz.call('NdisMPauseComplete', [a.addr]), () => fz.rt.NdisMPauseComplete(a.addr));
      a.pausePending = false;
      a.state = 'paused';
    }
  },

  /** NdisMSendNetBufferListsComplete of `nbls` (held sends of adapter `a`). */
  complete(fz, a, nbls) {
    const rt = fz.rt;
    for (const n of nbls) {
      fz.ok(fz.call('NET_BUFFER_LIST_STATUS_SET', [n.addr, 0]), () => rt.NET_BUFFER_LIST_STATUS_SET(n.addr, 0));
      n.status = 0;
    }
    const head = link(fz, nbls);
    for (const n of nbls) {
      a.held.splice(a.held.indexOf(n), 1);
      n.where = 'completing';
    }
    fz.ok(fz.call('NdisMSendNetBufferListsComplete', [a.addr, head, 0]), () => rt.NdisMSendNetBufferListsComplete(a.addr, head, 0));
    for (const n of nbls) if (n.where !== 'prot') throw fz.fail(`${n.name} did not reach its protocol's SendNetBufferListsCompleteHandler`);
  },

  // -- the protocol's handlers -----------------------------------------------------------------

  bind(fz, p, bindContext, params) {
    const rt = fz.rt;
    const c = ctxOf(fz);
    const a = fz.all('adapter').find((x) => x.adapterName === params.AdapterName && x.state !== 'halted' && !x.failed);
    if (!a) throw fz.fail(`BindAdapterHandlerEx for ${params.AdapterName}, which is not a live adapter`);
    if (a.state !== 'running') throw fz.fail(`BindAdapterHandlerEx for ${a.name}, which is ${a.state}`);
    if ([...p.bindings].some((x) => x.adapter === a)) throw fz.fail(`${p.name} is bound to ${a.name} twice`);
    const bctx = c.next++;
    const open = { Header: { Type: 0x87, Revision: 1, Size: 0x40 }, AdapterName: params.AdapterName };
    const box = { value: 0 };
    const s = fz.ok(fz.call('NdisOpenAdapterEx', [p.addr, bctx, open, 'BindContext', 'box']), () => rt.NdisOpenAdapterEx(p.addr, bctx, open, bindContext, box));
    if (s !== ST.SUCCESS) {
      fz.eq('NdisOpenAdapterEx status', s, ST.RESOURCES);
      fz.allocFailed('NdisOpenAdapterEx');
      return ST.SUCCESS;
    }
    const b = fz.add({ kind: 'binding', addr: box.value, size: 4, owned: 0, prot: p, adapter: a, sends: 0, held: new Set(), ctxId: bctx });
    c.byCtx.set(bctx, b);
    p.bindings.add(b);
    a.bindings.add(b);
    return ST.SUCCESS;
  },

  unbind(fz, b) {
    const rt = fz.rt;
    if (b.held.size) drvArea.returnHeld(fz, b, [...b.held]);
    fz.ok(fz.call('NdisCloseAdapterEx', [b.addr]), () => rt.NdisCloseAdapterEx(b.addr));
    drvArea.closed(fz, b);
    return ST.SUCCESS;
  },

  closed(fz, b) {
    b.prot.bindings.delete(b);
    b.adapter.bindings.delete(b);
    fz.remove(b);
  },

  receive(fz, b, head, count, flags) {
    const nbls = walk(fz, head);
    fz.eq(`ReceiveNetBufferLists(${b.name}) NumberOfNetBufferLists`, count, nbls.length);
    for (const n of nbls) if (n.where !== 'up' && n.where !== 'lent') throw fz.fail(`${b.name} received ${n.name}, which is not indicated (${n.where})`);
    if (flags & RESOURCES_FLAG) return; // the miniport's again when the indication returns
    for (const n of nbls) b.held.add(n);
    if (ctxOf(fz).returnInline && nbls.length) drvArea.returnHeld(fz, b, nbls.slice(0, 1));
  },

  sendComplete(fz, b, head) {
    for (const n of walk(fz, head)) {
      if (n.where !== 'completing' && n.where !== 'sending') throw fz.fail(`${b.name} got ${n.name} back, which it did not send (${n.where})`);
      if (n.sentOn !== b) throw fz.fail(`${n.name} was completed to ${b.name}, but was sent on ${n.sentOn?.name}`);
      n.where = 'prot';
      b.sends--;
    }
  },

  /** NdisReturnNetBufferLists of NBLs binding `b` holds. */
  returnHeld(fz, b, nbls) {
    const rt = fz.rt;
    for (const n of nbls) b.held.delete(n);
    const head = link(fz, nbls);
    fz.ok(fz.call('NdisReturnNetBufferLists', [b.addr, head, 0]), () => rt.NdisReturnNetBufferLists(b.addr, head, 0));
  },

  // -- ops ------------------------------------------------------------------------------------------

  ops: [
    {
      name: 'drv.register', w: 1,
      run(fz, r) {
        const rt = fz.rt;
        const c = ctxOf(fz);
        const v = r.int(10);
        if (v < 4 && fz.all('miniport').length < 2) {
          const box = { value: 1 };
          const ctx = c.next++;
          if (r.chance(0.15)) {
            const [chars, want] = r.pick([
              [miniportChars(fz, { Header: { Type: 0x8b, Revision: 2, Size: 0x7c } }), ST.BAD_CHARACTERISTICS],
              [miniportChars(fz, { Header: { Type: 0x8a, Revision: 3, Size: 0x7c } }), ST.BAD_CHARACTERISTICS],
              [miniportChars(fz, { PauseHandler: undefined }), ST.BAD_CHARACTERISTICS],
              [miniportChars(fz, { MajorNdisVersion: 5 }), ST.BAD_VERSION],
            ]);
            const s = fz.ok(fz.call('NdisMRegisterMiniportDriver', [0, 'path', ctx, chars, 'box']), () => rt.NdisMRegisterMiniportDriver(0, 'path', ctx, chars, box));
            fz.eq('NdisMRegisterMiniportDriver status', s, want);
            fz.eq('NdisMRegisterMiniportDriver handle', box.value, 0);
            return;
          }
          if (r.chance(0.1)) {
            const args = r.pick([[NaN, 'p', ctx, miniportChars(fz), box], [0, {}, ctx, miniportChars(fz), box], [0, 'p', -1, miniportChars(fz), box], [0, 'p', ctx, null, box], [0, 'p', ctx, miniportChars(fz), 5]]);
            fz.bad(fz.call('NdisMRegisterMiniportDriver', args), ['PARAM'], () => rt.NdisMRegisterMiniportDriver(...args), [], 'bad argument');
            return;
          }
          const s = fz.ok(fz.call('NdisMRegisterMiniportDriver', [0, 'path', ctx, 'FzMp', 'box']), () => rt.NdisMRegisterMiniportDriver(0, 'path', ctx, miniportChars(fz), box));
          if (s !== ST.SUCCESS) {
            fz.eq('NdisMRegisterMiniportDriver status', s, ST.RESOURCES);
            return fz.allocFailed('NdisMRegisterMiniportDriver');
          }
          const d = fz.add({ kind: 'miniport', addr: box.value, size: 4, owned: 0, ctx, adapters: new Set() });
          c.byCtx.set(ctx, d);
          return;
        }
        if (fz.all('dprot').length >= 3) return;
        // A protocol driver with its send pool.
        const ctx = c.next++;
        const name = `FzPr${ctx}`;
        const box = { value: 0 };
        const s = fz.ok(fz.call('NdisRegisterProtocolDriver', [ctx, name, 'box']), () => rt.NdisRegisterProtocolDriver(ctx, driverProtocolChars(fz, name), box));
        if (s !== ST.SUCCESS) {
          fz.eq('NdisRegisterProtocolDriver status', s, ST.RESOURCES);
          return fz.allocFailed('NdisRegisterProtocolDriver');
        }
        const p = fz.add({ kind: 'dprot', addr: box.value, size: 4, owned: 0, ctx, protName: name, txPool: null, bindings: new Set() });
        c.byCtx.set(ctx, p);
        fz.pnpPending = (fz.pnpPending ?? 0) + 1;
        (fz.pnpProts ??= []).push(p);
        const pid = r.int(16);
        const params = { Header: { Type: 0x80, Revision: 1, Size: 16 }, ProtocolId: pid, fAllocateNetBuffer: true, ContextSize: 16, PoolTag: TX_TAG, DataSize: 0 };
        const pool = fz.ok(fz.call('NdisAllocateNetBufferListPool', [p.addr, params]), () => rt.NdisAllocateNetBufferListPool(p.addr, params));
        if (!pool) return fz.allocFailed('send pool');
        p.txPool = addNblPool(fz, pool, TX_TAG, 16, true, 0, pid, p, { drv: true });
      },
    },
    {
      name: 'drv.createAdapter', w: 1,
      run(fz, r) {
        const rt = fz.rt;
        const c = ctxOf(fz);
        const d = fz.any(r, 'miniport');
        if (fz.all('adapter').length >= 4) return;
        const v = r.int(10);
        if (!d || v === 0) {
          const h = r.chance(0.5) && fz.any(r, 'dprot') ? fz.any(r, 'dprot').addr : fz.badPtr(r, ['miniport']).v;
          fz.bad(fz.call('createAdapter', [h, { name: 'bad' }]), ['DRV-2', 'PARAM'], () => rt.createAdapter(h, { name: 'bad' }), [], 'not a miniport driver handle');
          return;
        }
        if (v === 1) {
          // Known bug (report): a bad linkSpeed / macAddress is refused only after the adapter
          // serial moved and the deferred PnP work ran.
          const late = fz.cfg.knownBugs !== false ? [{ name: 'x', linkSpeed: -1 }, { name: 'x', linkSpeed: NaN }, { name: 'x', macAddress: [1, 2, 3] }, { name: 'x', macAddress: [1, 2, 3, 4, 5, 256] }] : [];
          const o = r.pick([null, {}, { name: '' }, { name: 5 }, ...late]);
          fz.bad(fz.call('createAdapter', [d.addr, o]), ['PARAM'], () => rt.createAdapter(d.addr, /** @type {any} */ (o)), [], 'bad options');
          return;
        }
        const name = `FzA${c.next}`;
        c.initFails = r.chance(0.1);
        const mac = r.chance(0.3) ? [2, 0x11, 0x22, 0x33, 0x44, r.int(256)] : undefined;
        const before = new Set(fz.all('adapter'));
        // createAdapter runs the deferred PnP work first: late protocols bind to running adapters.
        const late = drvArea.pnpBatch(fz);
        const A = fz.ok(fz.call('createAdapter', [d.addr, { name, macAddress: mac }]), () => rt.createAdapter(d.addr, { name, macAddress: mac }));
        drvArea.checkLateBinds(fz, late);
        const a = fz.all('adapter').find((x) => !before.has(x));
        const failed = c.initFails || (a && a.failed);
        c.initFails = false;
        if (!A) {
          if (!failed && a) throw fz.fail(`createAdapter returned null though MiniportInitializeEx succeeded`);
          if (a) {
            // Its handle is freed by NDIS.
            for (const b of a.bindings) drvArea.closed(fz, b);
            fz.remove(a);
          } else fz.allocFailed('createAdapter');
          return;
        }
        if (failed) throw fz.fail(`createAdapter returned an adapter though MiniportInitializeEx failed`);
        if (!fz.mayFail) for (const p of fz.all('dprot')) if (![...p.bindings].some((b) => b.adapter === a)) throw fz.fail(`${p.name} was not bound to the new ${a.name}`);
        a.A = A;
        a.state = 'running';
        d.adapters.add(a);
        fz.eq(`${a.name} handle`, A.handle, a.addr);
        fz.eq(`${a.name} name`, A.name, name);
        // The default MAC numbers the adapters that started (a failed start takes no number).
        const n = ++c.serial;
        fz.eq(`${a.name} macAddress`, A.macAddress.join(','), (mac ?? [2, 0, 0, 0, (n >> 8) & 0xff, n & 0xff]).join(','));
        drvArea.verifyAdapter(fz, a, 'fresh');
      },
    },
    {
      name: 'drv.send', w: 5,
      run(fz, r) {
        const rt = fz.rt;
        const b = fz.any(r, 'binding');
        if (!b) return;
        const p = b.prot;
        if (!p.txPool) return;
        const k = r.range(1, 4);
        const nbls = r.sample(fz.all('nbl', (n) => n.drv && n.where === 'prot' && n.dp === p), k);
        while (nbls.length < k && r.chance(0.8)) {
          const nbl = fz.ok(fz.call('NdisAllocateNetBufferList', [p.txPool.addr, 8, 0]), () => rt.NdisAllocateNetBufferList(p.txPool.addr, 8, 0));
          if (!nbl) {
            fz.allocFailed('send NBL');
            break;
          }
          const n = addNbl(fz, p.txPool, nbl, 8, 0, rt.NET_BUFFER_LIST_CONTEXT(nbl), { drv: true, where: 'prot', dp: p });
          initReserved(fz, n.pre);
          nbls.push(n);
        }
        if (!nbls.length) return;
        const v = r.int(12);
        if (v === 0) {
          // An NBL that is away (sent, or a receive) may not be sent (OWN-1).
          const away = fz.any(r, 'nbl', (n) => n.drv && (n.where === 'sent' || n.where === 'up'));
          if (away) {
            const c = drvArea.relinkTo(fz, r.sample(nbls, nbls.length - 1), away);
            fz.bad(fz.call('NdisSendNetBufferLists', [b.addr, c.head, 0, 0]), c.rules ?? ['OWN-1'], () => rt.NdisSendNetBufferLists(b.addr, c.head, 0, 0), nbls, 'NBL away');
            return;
          }
        }
        if (v === 1) {
          const head = link(fz, nbls);
          const [h, rules] = r.pick([[b.adapter.addr, ['DRV-2']], [p.addr, ['DRV-2']], [fz.badPtr(r, ['binding']).v, ['DRV-2', 'PARAM']]]);
          fz.bad(fz.call('NdisSendNetBufferLists', [h, head, 0, 0]), rules, () => rt.NdisSendNetBufferLists(h, head, 0, 0), nbls, 'not a binding handle');
          return;
        }
        if (v === 2) {
          const head = link(fz, nbls);
          const [args, rules] = r.pick([[[b.addr, 0, 0, 0], ['PARAM']], [[b.addr, head, NaN, 0], ['PARAM']], [[b.addr, head, 0, -1], ['PARAM']], [[b.addr, fz.badPtr(r, ['nbl'], { noNull: true }).v, 0, 0], PTR_RULES.concat(['PARAM'])]]);
          fz.bad(fz.call('NdisSendNetBufferLists', args), rules, () => rt.NdisSendNetBufferLists(...args), nbls, 'bad argument');
          return;
        }
        const head = link(fz, nbls);
        const a = b.adapter;
        const running = a.state === 'running';
        ctxOf(fz).inline = running && r.chance(0.15);
        for (const n of nbls) {
          n.where = 'sending';
          n.sentOn = b;
          n.src = b.addr;
        }
        b.sends += nbls.length;
        const flags = r.pick([0, 1]);
        fz.ok(fz.call('NdisSendNetBufferLists', [b.addr, head, 0, flags]), () => rt.NdisSendNetBufferLists(b.addr, head, 0, flags));
        ctxOf(fz).inline = false;
        if (!running) {
          // A paused adapter's sends complete at once with NDIS_STATUS_PAUSED.
          for (const n of nbls) {
            if (n.where !== 'prot') throw fz.fail(`${n.name} sent on paused ${a.name} was not completed at once (${n.where})`);
            n.status = ST.PAUSED;
          }
        } else {
          for (const n of nbls) if (n.where !== 'sent' && n.where !== 'prot') throw fz.fail(`${n.name} did not reach ${a.name}'s miniport (${n.where})`);
        }
        for (const n of nbls) drvArea.verifyDrvNbl(fz, n, 'after send');
      },
    },
    {
      name: 'drv.complete', w: 4,
      run(fz, r) {
        const rt = fz.rt;
        const a = fz.any(r, 'adapter', (x) => x.state !== 'halted');
        if (!a) return;
        const v = r.int(10);
        if (v === 0) {
          // Completing an NBL the miniport was not given (OWN-1).
          const n = fz.any(r, 'nbl', (x) => x.drv && (x.where === 'prot' || x.where === 'mp' || (x.where === 'sent' && !a.held.includes(x))));
          if (!n) return;
          const c = drvArea.relinkTo(fz, r.sample(a.held, 1), n);
          fz.bad(fz.call('NdisMSendNetBufferListsComplete', [a.addr, c.head, 0]), c.rules ?? ['OWN-1'], () => rt.NdisMSendNetBufferListsComplete(a.addr, c.head, 0), [], 'NBL not at the miniport');
          return;
        }
        if (v === 1 && a.held.length) {
          const b = [...a.bindings][0];
          const h = b ? b.addr : fz.badPtr(r, ['adapter']).v;
          const head = a.held[0].addr;
          fz.bad(fz.call('NdisMSendNetBufferListsComplete', [h, head, 0]), ['DRV-2', 'PARAM'], () => rt.NdisMSendNetBufferListsComplete(h, head, 0), [], 'not an adapter handle');
          return;
        }
        if (!a.held.length) return;
        drvArea.complete(fz, a, r.sample(a.held, r.range(1, a.held.length)));
      },
    },
    {
      name: 'drv.indicate', w: 4,
      run(fz, r) {
        const rt = fz.rt;
        const a = fz.any(r, 'adapter', (x) => x.state !== 'halted' && x.state !== 'initializing');
        if (!a) return;
        const idle = a.rx.filter((n) => n.where === 'mp');
        const nbls = r.sample(idle, r.range(1, Math.max(1, idle.length)));
        if (!nbls.length) return;
        const resources = r.chance(0.2);
        const flags = (resources ? RESOURCES_FLAG : 0) | r.pick([0, 1]);
        const v = r.int(12);
        const head = link(fz, nbls);
        if (a.state !== 'running') {
          fz.bad(fz.call('NdisMIndicateReceiveNetBufferLists', [a.addr, head, 0, nbls.length, flags]), ['DRV-2'], () => rt.NdisMIndicateReceiveNetBufferLists(a.addr, head, 0, nbls.length, flags), nbls, `indicate while ${a.state}`);
          return;
        }
        if (v === 0) {
          // SourceHandle not the adapter's (OWN-2).
          const n = r.pick(nbls);
          const src = r.pick([0, n.src + 8, fz.any(r, 'binding')?.addr ?? 4]);
          fz.ok(fz.call('NET_BUFFER_LIST_SOURCE_HANDLE_SET', [n.addr, src]), () => rt.NET_BUFFER_LIST_SOURCE_HANDLE_SET(n.addr, src));
          n.src = src;
          fz.bad(fz.call('NdisMIndicateReceiveNetBufferLists', [a.addr, head, 0, nbls.length, flags]), ['OWN-2'], () => rt.NdisMIndicateReceiveNetBufferLists(a.addr, head, 0, nbls.length, flags), nbls, 'wrong SourceHandle');
          fz.ok(fz.call('NET_BUFFER_LIST_SOURCE_HANDLE_SET', [n.addr, a.addr]), () => rt.NET_BUFFER_LIST_SOURCE_HANDLE_SET(n.addr, a.addr));
          n.src = a.addr;
          return;
        }
        if (v === 1) {
          const [args, rules] = r.pick([
            [[a.addr, head, 0, nbls.length + 1, flags], ['PARAM']], [[a.addr, head, 0, 0, flags], ['PARAM']], [[a.addr, head, NaN, nbls.length, flags], ['PARAM']],
            [[a.addr, 0, 0, 0, flags], ['PARAM']], [[fz.any(r, 'binding')?.addr ?? 0, head, 0, nbls.length, flags], ['DRV-2']],
          ]);
          fz.bad(fz.call('NdisMIndicateReceiveNetBufferLists', args), rules, () => rt.NdisMIndicateReceiveNetBufferLists(...args), nbls, 'bad argument');
          return;
        }
        if (v === 2) {
          // An NBL that is up already (OWN-1).
          const up = a.rx.find((n) => n.where === 'up');
          if (up) {
            const c = drvArea.relinkTo(fz, nbls, up);
            fz.bad(fz.call('NdisMIndicateReceiveNetBufferLists', [a.addr, c.head, 0, c.len, flags]), c.rules ?? ['OWN-1'], () => rt.NdisMIndicateReceiveNetBufferLists(a.addr, c.head, 0, c.len, flags), nbls, 'NBL away');
            return;
          }
        }
        ctxOf(fz).returnInline = r.chance(0.2);
        for (const n of nbls) n.where = resources ? 'lent' : 'up';
        if (!resources) a.indicated += nbls.length;
        fz.ok(fz.call('NdisMIndicateReceiveNetBufferLists', [a.addr, head, 0, nbls.length, flags]), () => rt.NdisMIndicateReceiveNetBufferLists(a.addr, head, 0, nbls.length, flags));
        ctxOf(fz).returnInline = false;
        if (resources) for (const n of nbls) n.where = 'mp';
        // With no binding NDIS returns them at once.
        if (!a.bindings.size) for (const n of nbls) if (n.where !== 'mp') throw fz.fail(`${n.name} indicated to no binding did not come back at once`);
        for (const n of nbls) {
          const holders = [...a.bindings].filter((b) => b.held.has(n)).length;
          if (n.where === 'up' && holders === 0) throw fz.fail(`${n.name} is up but no binding holds it`);
        }
      },
    },
    {
      name: 'drv.return', w: 4,
      run(fz, r) {
        const rt = fz.rt;
        const b = fz.any(r, 'binding');
        if (!b) return;
        const v = r.int(10);
        if (v === 0) {
          // Returning an NBL the binding does not hold (OWN-1).
          const n = fz.any(r, 'nbl', (x) => x.drv && !b.held.has(x) && x.where !== 'completing');
          if (!n) return;
          const c = drvArea.relinkTo(fz, r.sample([...b.held], 1), n);
          fz.bad(fz.call('NdisReturnNetBufferLists', [b.addr, c.head, 0]), c.rules ?? ['OWN-1'], () => rt.NdisReturnNetBufferLists(b.addr, c.head, 0), [], 'NBL not held');
          return;
        }
        if (!b.held.size) return;
        drvArea.returnHeld(fz, b, r.sample([...b.held], r.range(1, b.held.size)));
      },
    },
    {
      name: 'drv.state', w: 3,
      run(fz, r) {
        const rt = fz.rt;
        const a = fz.any(r, 'adapter', (x) => x.state !== 'halted');
        if (!a || !a.A) return;
        const v = r.int(12);
        if (v <= 2) {
          const was = a.state;
          fz.ok(`${a.name}.pause()`, () => a.A.pause());
          if (was === 'running') {
            if (a.state !== (a.indicated ? 'pausing' : 'paused')) throw fz.fail(`${a.name} is ${a.state} after pause()`);
          }
          drvArea.verifyAdapter(fz, a, 'after pause');
          return;
        }
        if (v <= 4) {
          if (a.pausePending) {
            fz.bad(`${a.name}.restart()`, ['DRV-2'], () => a.A.restart(), [], 'restart while pausing');
            return;
          }
          fz.ok(`${a.name}.restart()`, () => a.A.restart());
          a.state = 'running';
          drvArea.verifyAdapter(fz, a, 'after restart');
          return;
        }
        if (v === 5) {
          if (a.pausePending && a.indicated === 0) {
            fz.ok(fz.call('NdisMPauseComplete', [a.addr]), () => rt.NdisMPauseComplete(a.addr));
            a.pausePending = false;
            a.state = 'paused';
          } else {
            fz.bad(fz.call('NdisMPauseComplete', [a.addr]), ['DRV-2'], () => rt.NdisMPauseComplete(a.addr), [], a.pausePending ? 'receives outstanding' : 'no pended pause');
          }
          drvArea.verifyAdapter(fz, a, 'after NdisMPauseComplete');
          return;
        }
        if (v === 6) {
          // Close a binding: LEAK-NBL while it has sends out or holds receives.
          const b = fz.any(r, 'binding', (x) => x.adapter === a);
          if (!b) return;
          if (b.sends || b.held.size) {
            fz.bad(fz.call('NdisCloseAdapterEx', [b.addr]), ['LEAK-NBL'], () => rt.NdisCloseAdapterEx(b.addr), [], 'binding with NBLs out');
            return;
          }
          fz.ok(fz.call('NdisCloseAdapterEx', [b.addr]), () => rt.NdisCloseAdapterEx(b.addr));
          drvArea.closed(fz, b);
          return;
        }
        if (v === 7) {
          // Wrong handle types and calls in the wrong state.
          const b = fz.any(r, 'binding');
          const p = fz.any(r, 'dprot');
          const [fn, args] = r.pick([
            ['NdisMPauseComplete', [b?.addr ?? p?.addr ?? 0]],
            ['NdisCloseAdapterEx', [a.addr]],
            ['NdisMDeregisterMiniportDriver', [a.addr]],
            ['NdisReturnNetBufferLists', [a.addr, a.rx[0]?.addr ?? 0, 0]],
            ['NdisMSetMiniportAttributes', [a.addr, { Header: { Type: 0x9e, Revision: 1, Size: 0x28 }, MiniportAdapterContext: 1 }]],
            ['NdisOpenAdapterEx', [p?.addr ?? 0, 1, { Header: { Type: 0x87, Revision: 1, Size: 0x40 }, AdapterName: 'x' }, {}, { value: 0 }]],
            ['NdisCancelSendNetBufferLists', [a.addr, 1]],
          ]);
          fz.bad(fz.call(fn, args), ['DRV-2'], () => rt[fn](...args), [], 'wrong handle or state');
          return;
        }
        if (v === 8) {
          // Freeing an NBL that is away (OWN-1), alone or in a chain.
          const n = fz.any(r, 'nbl', (x) => x.drv && (x.where === 'sent' || x.where === 'up'));
          if (!n) return;
          if (r.chance(0.5)) {
            fz.bad(fz.call('NdisFreeNetBufferList', [n.addr]), ['OWN-1'], () => rt.NdisFreeNetBufferList(n.addr), [], 'NBL away');
          } else {
            const mine = fz.all('nbl', (x) => x.drv && x.where === 'prot').slice(0, 2);
            const c = drvArea.relinkTo(fz, mine, n);
            fz.bad(fz.call('freeNetBufferListChain', [c.head]), c.rules ?? ['OWN-1'], () => rt.freeNetBufferListChain(c.head), mine, 'NBL away in a chain');
          }
          return;
        }
        if (v === 9) {
          // NdisCancelSendNetBufferLists: asks the miniport (which ignores it).
          const b = fz.any(r, 'binding', (x) => x.adapter === a);
          if (!b) return;
          fz.ok(fz.call('NdisCancelSendNetBufferLists', [b.addr, 7]), () => rt.NdisCancelSendNetBufferLists(b.addr, 7));
          return;
        }
        // The protocol frees idle NBLs of its own.
        const n = fz.any(r, 'nbl', (x) => x.drv && x.where === 'prot');
        if (!n) return;
        fz.ok(fz.call('NdisFreeNetBufferList', [n.addr]), () => rt.NdisFreeNetBufferList(n.addr));
        releaseNbl(fz, n);
      },
    },
    {
      name: 'drv.pnp', w: 1,
      run(fz) {
        const late = drvArea.pnpBatch(fz);
        const n = fz.ok('runtime.pnp()', () => fz.rt.pnp());
        fz.eq('runtime.pnp() work items run', n, late.n);
        drvArea.checkLateBinds(fz, late);
        const listed = fz.rt.adapters().map((A) => A.handle).sort().join(',');
        fz.eq('runtime.adapters()', listed, fz.all('adapter', (a) => !!a.A).map((a) => a.addr).sort().join(','));
      },
    },
    {
      name: 'drv.remove', w: 1,
      run(fz, r) {
        const rt = fz.rt;
        const v = r.int(10);
        if (v === 0 && fz.deadAdapters?.length) {
          const A = r.pick(fz.deadAdapters);
          const m = r.pick(['pause', 'restart', 'remove']);
          fz.bad(`(adapter from before runtime.reset()).${m}()`, ['DRV-2'], () => A[m](), [], 'adapter of a reset runtime');
          return;
        }
        if (v <= 3) {
          const a = fz.any(r, 'adapter', (x) => x.state !== 'halted' && !!x.A);
          if (!a) return;
          drvArea.removeAdapter(fz, a);
          if (r.chance(0.3)) fz.bad(`${a.name}.remove() again`, ['DRV-2'], () => a.A.remove(), [], 'halted adapter');
          return;
        }
        if (v <= 5) {
          const d = fz.any(r, 'miniport');
          if (!d) return;
          if (d.adapters.size) {
            fz.bad(fz.call('NdisMDeregisterMiniportDriver', [d.addr]), ['DRV-2'], () => rt.NdisMDeregisterMiniportDriver(d.addr), [], 'miniport with adapters');
            return;
          }
          fz.ok(fz.call('NdisMDeregisterMiniportDriver', [d.addr]), () => rt.NdisMDeregisterMiniportDriver(d.addr));
          fz.remove(d);
          return;
        }
        const p = fz.any(r, 'dprot');
        if (!p) return;
        // NdisDeregisterProtocolDriver unbinds first (as NDIS does: ProtocolUnbindAdapterEx is
        // where a protocol frees its per-binding pools) and only then finds POOL-6, so a rejected
        // deregistration has run the unbind callbacks; test/driver.test.ts covers that order.
        if (false && p.txPool && v === 6 && fz.cfg.knownBugs !== false) {
          // Still owning its pool: POOL-6, and nothing may change (its bindings stay open).
          fz.bad(fz.call('NdisDeregisterProtocolDriver', [p.addr]), ['POOL-6'], () => rt.NdisDeregisterProtocolDriver(p.addr), [...p.bindings], 'protocol owning a pool');
          for (const b of [...p.bindings]) if (!drvArea.bindingOpen(fz, b)) throw fz.fail(`the rejected NdisDeregisterProtocolDriver(${p.name}) closed ${b.name}`);
          return;
        }
        drvArea.deregisterProtocol(fz, p);
      },
    },
  ],

  /**
   * Links the NBLs the caller owns (`owned`, relinked with NET_BUFFER_LIST_NEXT_NBL_SET) in front
   * of `last`, an NBL the caller does not own (its Next is not the caller's to set). Returns the
   * head and what the chain walk of the runtime will find: `rules` (PARAM for a loop, a pointer
   * rule for a dead link) or null, and the chain's length.
   */
  relinkTo(fz, owned, last) {
    const rt = fz.rt;
    owned.forEach((n, i) => {
      const next = i + 1 < owned.length ? owned[i + 1].addr : last.addr;
      fz.ok(fz.call('NET_BUFFER_LIST_NEXT_NBL_SET', [n.addr, next]), () => rt.NET_BUFFER_LIST_NEXT_NBL_SET(n.addr, next));
    });
    const head = owned.length ? owned[0].addr : last.addr;
    const seen = new Set();
    let len = 0;
    for (let a = head; a; a = rt.NET_BUFFER_LIST_NEXT_NBL(a)) {
      if (seen.has(a)) return { head, rules: ['PARAM'], len };
      const o = fz.live.get(a);
      if (!o || o.kind !== 'nbl') return { head, rules: PTR_RULES, len };
      seen.add(a);
      len++;
    }
    return { head, rules: null, len };
  },

  /** The deferred PnP work about to run: the protocols registered since, and the running adapters. */
  pnpBatch(fz) {
    const late = { prots: (fz.pnpProts ?? []).filter((p) => !p.dead), running: fz.all('adapter', (a) => a.state === 'running' && !!a.A), n: fz.pnpPending ?? 0 };
    fz.pnpPending = 0;
    fz.pnpProts = [];
    return late;
  },

  /** After PnP ran: every late protocol is bound to every adapter that was running. */
  checkLateBinds(fz, late) {
    if (fz.mayFail) return;
    for (const p of late.prots) {
      if (p.dead) continue;
      for (const a of late.running) {
        if (a.dead || a.state === 'halted') continue;
        if (![...p.bindings].some((b) => b.adapter === a)) throw fz.fail(`late protocol ${p.name} was not bound to running ${a.name} by the deferred PnP work`);
      }
    }
  },

  /** Complete the adapter's sends (its protocols' unbind must not leak them), then remove it. */
  removeAdapter(fz, a) {
    const rt = fz.rt;
    // Protocols give back what they hold; a pended pause completes (else remove() is DRV-2).
    for (const b of [...a.bindings]) if (b.held.size) drvArea.returnHeld(fz, b, [...b.held]);
    if (a.pausePending) {
      fz.ok(fz.call('NdisMPauseComplete', [a.addr]), () => rt.NdisMPauseComplete(a.addr));
      a.pausePending = false;
      a.state = 'paused';
    }
    if (a.held.length) drvArea.complete(fz, a, a.held.slice());
    const d = a.drv;
    fz.ok(`${a.name}.remove()`, () => a.A.remove());
    if (a.state !== 'halted') throw fz.fail(`${a.name} was not halted by remove()`);
    for (const b of a.bindings) throw fz.fail(`${b.name} still open after ${a.name}.remove()`);
    d.adapters.delete(a);
    fz.remove(a);
  },

  /** Free the protocol's idle NBLs and pool, then deregister (NDIS unbinds it first). */
  deregisterProtocol(fz, p) {
    const rt = fz.rt;
    const mine = fz.all('nbl', (x) => x.drv && x.dp === p);
    if (mine.some((n) => n.where !== 'prot')) {
      // Sends still out: the miniports complete them first.
      for (const a of fz.all('adapter')) {
        const ours = a.held.filter((n) => n.dp === p);
        if (ours.length) drvArea.complete(fz, a, ours);
      }
    }
    for (const n of fz.all('nbl', (x) => x.drv && x.dp === p)) {
      fz.ok(fz.call('NdisFreeNetBufferList', [n.addr]), () => rt.NdisFreeNetBufferList(n.addr));
      releaseNbl(fz, n);
    }
    if (p.txPool) {
      fz.ok(fz.call('NdisFreeNetBufferListPool', [p.txPool.addr]), () => rt.NdisFreeNetBufferListPool(p.txPool.addr));
      fz.retire(p.txPool.key);
      p.owned--;
      fz.remove(p.txPool);
      p.txPool = null;
    }
    fz.ok(fz.call('NdisDeregisterProtocolDriver', [p.addr]), () => rt.NdisDeregisterProtocolDriver(p.addr));
    if (p.bindings.size) throw fz.fail(`${p.name} deregistered with bindings left open`);
    fz.remove(p);
  },

  verify(fz, o, when) {
    if (o.kind === 'adapter') return drvArea.verifyAdapter(fz, o, when), true;
    if (o.kind === 'nbl' && o.drv) return drvArea.verifyDrvNbl(fz, o, when), true;
    return ['miniport', 'dprot', 'binding'].includes(o.kind);
  },

  verifyAdapter(fz, a, when) {
    if (!a.A || a.state === 'halted') return;
    const A = a.A;
    fz.eq(`${a.name}.state (${when})`, A.state, a.state);
    fz.eq(`${a.name}.outstanding.sends (${when})`, A.outstanding.sends, a.held.length);
    fz.eq(`${a.name}.outstanding.receives (${when})`, A.outstanding.receives, a.indicated);
    fz.eq(`${a.name}.bindings (${when})`, A.bindings.slice().sort().join(','), [...a.bindings].map((b) => b.addr).sort().join(','));
    fz.eq(`${a.name}.context (${when})`, A.context, a.ctxId);
  },

  verifyDrvNbl(fz, n, when) {
    const rt = fz.rt;
    const w = `${n.name} (${when})`;
    fz.eq(`NET_BUFFER_LIST_SOURCE_HANDLE(${w})`, rt.NET_BUFFER_LIST_SOURCE_HANDLE(n.addr), n.src);
    fz.eq(`NET_BUFFER_LIST_STATUS(${w})`, rt.NET_BUFFER_LIST_STATUS(n.addr), n.status);
    fz.eq(`NdisGetPoolFromNetBufferList(${w})`, rt.NdisGetPoolFromNetBufferList(n.addr), n.pool.addr);
    fz.eq(`NET_BUFFER_LIST_FIRST_NB(${w})`, rt.NET_BUFFER_LIST_FIRST_NB(n.addr), n.firstNb);
  },

  check(fz, r) {
    const a = fz.any(r, 'adapter', (x) => !!x.A);
    if (a) drvArea.verifyAdapter(fz, a, 'sample');
  },

  teardown(fz) {
    const rt = fz.rt;
    for (const a of fz.all('adapter')) if (a.A) drvArea.removeAdapter(fz, a);
    for (const p of fz.all('dprot')) drvArea.deregisterProtocol(fz, p);
    for (const d of fz.all('miniport')) {
      fz.ok(fz.call('NdisMDeregisterMiniportDriver', [d.addr]), () => rt.NdisMDeregisterMiniportDriver(d.addr));
      fz.remove(d);
    }
  },
};
