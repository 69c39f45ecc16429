// orgtree web UI: plain JavaScript, no dependencies. It talks only to the
// server that served it: GraphQL (/graphql/v2) for details, members,
// resources and every change, and /api/v2/ui/* for the lazily opened tree,
// the chart's subtree and search. The token lives in sessionStorage only.
'use strict';
(() => {
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of kids) if (c !== null && c !== undefined) e.append(c);
    return e;
  };
  const timing = (window.orgtreeTiming = {});

  // ---- API ----
  const session = {
    get pool() { return sessionStorage.getItem('orgtree.pool') || ''; },
    get token() { return sessionStorage.getItem('orgtree.token') || ''; },
    set(pool, token) { sessionStorage.setItem('orgtree.pool', pool); sessionStorage.setItem('orgtree.token', token); },
    clear() { sessionStorage.removeItem('orgtree.pool'); sessionStorage.removeItem('orgtree.token'); },
  };
  class APIError extends Error { constructor(code, msg) { super(msg); this.code = code; } }
  function headers() {
    // X-Orgtree-Actor: the change history and the events say the UI made
    // the changes it sends.
    const h = { 'Content-Type': 'application/json', 'x-authing-userpool-id': session.pool, 'X-Orgtree-Actor': 'ui' };
    if (session.token) h.Authorization = 'Bearer ' + session.token;
    return h;
  }
  async function rest(path, params, signal) {
    // Paths are relative to the page (<prefix>/ui/), so the UI works where
    // the server is mounted under a prefix.
    const url = '..' + path + '?' + new URLSearchParams(params || {});
    const r = await fetch(url, { headers: headers(), signal });
    const body = await r.json();
    if (body.code !== 200) { if (body.code === 401) signOut(body.message); throw new APIError(body.code, body.message); }
    return body.data;
  }
  async function gql(query, variables) {
    const r = await fetch('../graphql/v2', { method: 'POST', headers: headers(), body: JSON.stringify({ query, variables }) });
    const body = await r.json();
    if (body.errors && body.errors.length) {
      const m = body.errors[0].message;
      const code = typeof m === 'object' ? m.code : 0;
      if (code === 401 && session.token) signOut(m.message);
      throw new APIError(code, typeof m === 'object' ? m.message : String(m));
    }
    return body.data;
  }

  // ---- state ----
  const st = {
    orgId: '', rootId: '',
    nodes: new Map(),      // id → summary {id, parentId, name, code, leader, childCount, memberCount, subtreeCount}
    kids: new Map(),       // id → [child ids] once loaded
    parent: new Map(),     // child id → parent id, for every child id loaded (summary or not)
    items: new Map(),      // id → <li role=treeitem>
    expanded: new Set(),
    win: new Map(),        // id → {a, b}: a windowed level renders its rows [a, b) (and its pinned ones)
    selected: '', focused: '', cut: '',
    members: { page: 1, limit: 10, sortBy: 'CREATEDAT_DESC', include: false },
    tab: 'details',
  };

  // ---- messages ----
  let msgTimer = 0;
  function say(text, isError) {
    const m = $('#message');
    m.textContent = text;
    m.classList.toggle('error', !!isError);
    m.hidden = false;
    clearTimeout(msgTimer);
    if (!isError) msgTimer = setTimeout(() => { m.hidden = true; }, 4000);
  }

  // ---- sign-in ----
  $('#signin').addEventListener('submit', async (e) => {
    e.preventDefault();
    const pool = $('#pool').value.trim(), secret = $('#secret').value;
    $('#signin-error').textContent = '';
    session.set(pool, '');
    try {
      const d = await gql('query accessToken($userPoolId: String!, $secret: String!) { accessToken(userPoolId: $userPoolId, secret: $secret) { accessToken } }', { userPoolId: pool, secret });
      session.set(pool, d.accessToken.accessToken);
      $('#secret').value = '';
      await start();
    } catch (err) {
      session.clear();
      $('#signin-error').textContent = err.message;
    }
  });
  function signOut(reason) {
    stopLive();
    session.clear();
    $('#app-view').hidden = true; $('#signin-view').hidden = false;
    for (const s of ['.orgpick', '.searchbox', '#signout']) $(s).hidden = true;
    if (reason) $('#signin-error').textContent = reason;
  }
  $('#signout').addEventListener('click', () => signOut(''));

  async function start() {
    $('#signin-view').hidden = true; $('#app-view').hidden = false;
    for (const s of ['.orgpick', '.searchbox', '#signout']) $(s).hidden = false;
    // The stream is connected before anything is loaded, so no change
    // falls between what is shown and what the events bring.
    await startLive();
    await loadOrgs();
  }
  async function loadOrgs() {
    const orgs = await rest('/api/v2/orgs', { page: 1, limit: 100, sortBy: 'CREATEDAT_ASC' });
    const sel = $('#org');
    sel.replaceChildren(...orgs.map((o) => el('option', { value: o.id, text: o.rootNode ? o.rootNode.name : o.id })));
    const want = new URLSearchParams(location.hash.slice(1)).get('org');
    if (want && orgs.some((o) => o.id === want)) sel.value = want;
    if (!orgs.length) { $('#tree').replaceChildren(el('li', { class: 'hint', text: 'No orgs yet.' })); return; }
    await openOrg(sel.value);
  }
  $('#org').addEventListener('change', (e) => openOrg(e.target.value));

  // ---- live updates ----
  // The page follows GET /api/v2/events: a change made anywhere (another
  // tab, the API, the CLI) shows in the open tree and its counts without a
  // reload. The stream is read with fetch rather than EventSource, which
  // cannot send the Authorization header (and a token in the URL would end
  // up in logs); like EventSource it reconnects with Last-Event-ID, so the
  // server resumes after the last event seen, or says stream.reset, and
  // then the org is reloaded.
  const liveState = (window.orgtreeLive = { connected: false, events: 0, applied: 0, resets: 0, lastEventId: '' });
  let liveAbort = null, livePending = [], liveTimer = 0, liveBusy = Promise.resolve();
  function stopLive() {
    if (liveAbort) liveAbort.abort();
    liveAbort = null; liveState.connected = false; liveState.lastEventId = '';
  }
  // startLive resolves once the stream is connected (or has failed once:
  // the page works without it and it keeps retrying).
  function startLive() {
    stopLive();
    const ctl = new AbortController();
    liveAbort = ctl;
    return new Promise((connected) => {
      (async () => {
        let delay = 500;
        while (!ctl.signal.aborted) {
          try {
            const h = headers();
            if (liveState.lastEventId) h['Last-Event-ID'] = liveState.lastEventId;
            const r = await fetch('../api/v2/events', { headers: h, signal: ctl.signal });
            if (r.status === 401) { connected(); signOut('Signed out: the session expired.'); return; }
            if (!r.ok || !r.body) throw new Error('event stream: HTTP ' + r.status);
            liveState.connected = true; delay = 500;
            connected();
            const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
            let buf = '';
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              buf += value;
              let i;
              while ((i = buf.indexOf('\n\n')) >= 0) {
                const block = buf.slice(0, i);
                buf = buf.slice(i + 2);
                let id = '', data = '';
                for (const line of block.split('\n')) {
                  if (line.startsWith('id: ')) id = line.slice(4);
                  else if (line.startsWith('data: ')) data += line.slice(6);
                }
                if (id) liveState.lastEventId = id;
                if (data) onLiveEvent(JSON.parse(data));
              }
            }
          } catch (err) {
            if (ctl.signal.aborted) return;
          }
          liveState.connected = false;
          connected();
          await new Promise((res) => setTimeout(res, delay));
          delay = Math.min(2 * delay, 10000);
        }
      })();
    });
  }
  function onLiveEvent(ev) {
    liveState.events++;
    livePending.push(ev);
    // Events of one commit come together: apply them as one batch.
    clearTimeout(liveTimer);
    liveTimer = setTimeout(() => {
      const evs = livePending;
      livePending = [];
      liveBusy = liveBusy.then(() => applyLive(evs)).catch(fail);
    }, 30);
  }
  // A child of a long level may be known by id only (its summary comes
  // when its row is shown), so its parent is taken from the level.
  const parentOf = (id) => st.parent.get(id) || (st.nodes.get(id) || {}).parentId;
  const nameOf = (id) => (st.nodes.get(id) || { name: id }).name;
  const known = (id) => st.nodes.has(id) || st.parent.has(id); // shown, or in a loaded level
  async function applyLive(evs) {
    if (!st.orgId) {
      // No org was shown: the first one created opens.
      if (evs.some((e) => e.type === 'org.created')) await loadOrgs();
      return;
    }
    const reload = new Set();
    let details = false, orgs = false;
    // touched: the children or counts of id changed, so id and its shown
    // ancestors are reloaded (each reload repaints a level's summaries).
    const touched = (id) => {
      for (let cur = id; cur; cur = parentOf(cur)) {
        if (!st.items.has(cur)) continue;
        reload.add(cur);
        if (cur === st.selected) details = true;
      }
    };
    for (const ev of evs) {
      const d = ev.data || {};
      switch (ev.type) {
        case 'stream.reset': liveState.resets++; return openOrg(st.orgId);
        case 'org.created': case 'org.deleted': orgs = true; break;
        case 'department.created':
          if (ev.orgId === st.orgId) touched(d.parentId);
          break;
        case 'department.deleted':
          if (known(d.id)) {
            const p = parentOf(d.id) || d.parentId;
            const wasSelected = st.selected === d.id;
            forget(d.id);
            touched(p);
            if (wasSelected) { st.selected = ''; await select(p); }
          }
          break;
        case 'department.moved':
          if (known(d.id)) touched(parentOf(d.id));
          if (ev.orgId === st.orgId) { touched(d.parentId); if (st.selected === d.id) details = true; }
          break;
        case 'department.updated': case 'department.renamed':
          if (known(d.id)) { touched(parentOf(d.id) || d.id); if (st.selected === d.id) details = true; }
          break;
        case 'member.added': case 'member.removed':
          touched(d.nodeId);
          break;
        case 'user.updated': case 'user.deleted': case 'user.main_department.changed':
          details = true;
          break;
      }
    }
    if (orgs) {
      const cur = st.orgId;
      await loadOrgsKeeping(cur);
      if (st.orgId !== cur) return;
    }
    await Promise.all([...reload].filter((id) => st.items.has(id)).map((id) => loadChildren(id).catch(() => {})));
    if (details && st.selected && st.nodes.has(st.selected)) await renderDetails();
    liveState.applied += evs.length;
    timing.lastLive = performance.now();
  }
  // loadOrgsKeeping refreshes the org picker; the open org stays open
  // unless it was deleted.
  async function loadOrgsKeeping(orgId) {
    const orgs = await rest('/api/v2/orgs', { page: 1, limit: 100, sortBy: 'CREATEDAT_ASC' });
    const sel = $('#org');
    sel.replaceChildren(...orgs.map((o) => el('option', { value: o.id, text: o.rootNode ? o.rootNode.name : o.id })));
    if (orgs.some((o) => o.id === orgId)) { sel.value = orgId; return; }
    if (orgs.length) await openOrg(sel.value);
    else { st.orgId = ''; $('#tree').replaceChildren(el('li', { class: 'hint', text: 'No orgs yet.' })); }
  }

  // ---- tree ----
  async function openOrg(orgId) {
    timing.openStart = performance.now();
    history.replaceState(null, '', '#org=' + encodeURIComponent(orgId));
    st.orgId = orgId; st.nodes.clear(); st.kids.clear(); st.items.clear(); st.expanded.clear(); st.win.clear(); st.parent.clear();
    st.selected = st.focused = st.cut = '';
    const d = await gql('query($id: String!) { org(id: $id) { rootNode { id } } }', { id: orgId });
    st.rootId = d.org.rootNode.id;
    const lvl = await rest('/api/v2/ui/children', { nodeId: st.rootId, ids: true, offset: 0, limit: WINDOW_MIN });
    st.nodes.set(lvl.node.id, lvl.node);
    const tree = $('#tree');
    tree.replaceChildren(makeItem(lvl.node, 1));
    fillChildren(st.rootId, lvl.children, lvl.ids, lvl.offset);
    st.expanded.add(st.rootId);
    syncItem(st.rootId);
    setFocus(st.rootId);
    await select(st.rootId);
    timing.firstPaint = performance.now() - timing.openStart;
    // Time since navigation once the next frame is painted: what a person
    // waits from opening the page (signed in) to seeing the tree.
    requestAnimationFrame(() => setTimeout(() => { timing.painted = performance.now(); }, 0));
  }

  // Items are cloned from one template: a level of 1,000 children is built
  // in a few milliseconds.
  const itemTemplate = el('li', { role: 'treeitem', 'aria-selected': 'false', tabindex: '-1', draggable: 'true' },
    el('div', { class: 'row' }, el('span', { class: 'twisty', 'aria-hidden': 'true' }), el('span', { class: 'name' }), el('span', { class: 'counts' })));
  function makeItem(n, level) {
    const li = itemTemplate.cloneNode(true);
    li.setAttribute('aria-level', level);
    li.dataset.id = n.id;
    st.items.set(n.id, li);
    paintItem(li, n);
    return li;
  }
  function paintItem(li, n) {
    const row = li.firstChild;
    if (n.pending) {
      // A row of a long level whose summary is on its way.
      row.children[1].textContent = '…'; row.children[2].textContent = '';
      li.setAttribute('aria-label', 'Loading…'); li.setAttribute('aria-busy', 'true');
      return;
    }
    if (li.hasAttribute('aria-busy')) li.removeAttribute('aria-busy');
    row.children[1].textContent = n.name;
    row.children[2].textContent = n.memberCount + ' / ' + n.subtreeCount;
    row.children[2].title = n.memberCount + ' direct members, ' + n.subtreeCount + ' in the subtree';
    li.setAttribute('aria-label', n.name + ', ' + n.memberCount + ' direct, ' + n.subtreeCount + ' in subtree members' + (n.childCount ? ', ' + n.childCount + ' sub-departments' : ''));
    syncItem(n.id, li, n);
  }
  function syncItem(id, li = st.items.get(id), n = st.nodes.get(id)) {
    if (!li) return;
    const open = st.expanded.has(id);
    if (n && n.childCount > 0) li.setAttribute('aria-expanded', String(open)); else li.removeAttribute('aria-expanded');
    li.firstChild.firstChild.textContent = n && n.childCount > 0 ? (open ? '▾' : '▸') : '';
    const group = li.childElementCount > 1 ? li.lastElementChild : null;
    if (group) group.hidden = !open;
  }
  // ---- long levels ----
  // A level of more than WINDOW_MIN children is windowed: only the rows in
  // view and WINDOW_MARGIN more on each side are in the document, plus the
  // rows that must stay (open, focused, selected, cut or dragged
  // departments). Each run of rows left out is one empty spacer of their
  // height, so the scroll bar, the scroll position and the rows around stay
  // where they would be; scrolling moves the window. Rows left out are
  // collapsed ones (open ones stay), so a spacer is exactly rowH per row.
  // Every item says where it stands (aria-posinset of aria-setsize), so a
  // screen reader still announces "7 of 10000" although most of the level
  // is not in the document. Keyboard moves, reveal and drops go through
  // st.kids (every child's id is known), and show a row before they use it.
  const WINDOW_MIN = 200, WINDOW_MARGIN = 40;
  let rowH = 0; // the height of one collapsed row, measured once
  const spacerTemplate = el('li', { role: 'none', class: 'spacer', 'aria-hidden': 'true' });
  const pinned = (id) => st.expanded.has(id) || id === st.focused || id === st.selected || id === st.cut || id === dragId;
  function placeItem(item, level, i, n) {
    // Compared first: a live refresh of an unchanged level writes nothing.
    if (item.getAttribute('aria-level') !== String(level)) item.setAttribute('aria-level', level);
    if (item.getAttribute('aria-posinset') !== String(i + 1)) item.setAttribute('aria-posinset', i + 1);
    if (item.getAttribute('aria-setsize') !== String(n)) item.setAttribute('aria-setsize', n);
  }
  // renderGroup puts a windowed level's rows in its group: the window, the
  // pinned rows and a spacer for each gap. Items that stay are neither
  // moved nor replaced (a focus or a click on one is not lost); new ones
  // go in by fragments, and nothing is measured but rowH, once.
  function renderGroup(id) {
    const li = st.items.get(id), kids = st.kids.get(id), w = st.win.get(id);
    const group = li.lastElementChild, n = kids.length;
    w.a = Math.max(0, Math.min(w.a, n)); w.b = Math.max(w.a, Math.min(w.b, n));
    if (!rowH) rowH = li.firstChild.getBoundingClientRect().height || 24;
    const level = Number(li.getAttribute('aria-level')) + 1;
    const want = [];
    let gap = -1, missing = false;
    const spacer = (from, to) => {
      const sp = spacerTemplate.cloneNode(false);
      sp.dataset.from = from; sp.dataset.to = to;
      sp.style.height = (to - from) * rowH + 'px';
      want.push(sp);
    };
    for (let i = 0; i < n; i++) {
      const k = kids[i];
      if ((i < w.a || i >= w.b) && !pinned(k)) { if (gap < 0) gap = i; continue; }
      if (gap >= 0) { spacer(gap, i); gap = -1; }
      const sum = st.nodes.get(k);
      if (!sum) missing = true;
      const item = st.items.get(k) || makeItem(sum || { id: k, pending: true }, level);
      placeItem(item, level, i, n);
      want.push(item);
    }
    if (gap >= 0) spacer(gap, n);
    const keep = new Set(want);
    let ofLevel = null;
    for (const c of [...group.children]) {
      if (keep.has(c)) continue;
      c.remove();
      // A row of this level scrolled out: what was loaded below it is
      // dropped too (it is collapsed; opening it again reloads it). A row
      // that left the level (moved) keeps its item for its new parent.
      const cid = c.dataset.id;
      if (!cid || st.items.get(cid) !== c) continue;
      ofLevel ||= new Set(kids);
      if (ofLevel.has(cid)) { for (const k of st.kids.get(cid) || []) forget(k); st.kids.delete(cid); st.items.delete(cid); }
    }
    let cur = group.firstChild, frag = null;
    for (const e of want) {
      if (e === cur) {
        if (frag) { group.insertBefore(frag, cur); frag = null; }
        cur = cur.nextSibling;
      } else (frag ||= document.createDocumentFragment()).append(e);
    }
    if (frag) group.insertBefore(frag, cur);
    if (missing) loadRows(id);
  }
  // loadRows fetches the summaries a windowed level's window lacks (a page
  // of offset/limit: the rows between the first and the last one missing),
  // one request per level at a time, again while the window moved on.
  // When the level changed meanwhile (the ids of the page are not the ones
  // shown), the level is reloaded.
  const rowLoads = new Set();
  function loadRows(id) {
    if (rowLoads.has(id)) return;
    const w = st.win.get(id), kids = st.kids.get(id);
    if (!w || !kids) return;
    let a = w.a, b = Math.min(w.b, kids.length);
    while (a < b && st.nodes.has(kids[a])) a++;
    while (b > a && st.nodes.has(kids[b - 1])) b--;
    if (a >= b) return;
    rowLoads.add(id);
    timing.rowLoads = (timing.rowLoads || 0) + 1;
    let again = false; // only after a page that matched: a failing request is not repeated in a loop
    rest('/api/v2/ui/children', { nodeId: id, offset: a, limit: b - a }).then((lvl) => {
      const cur = st.kids.get(id);
      if (!cur || !st.items.has(id)) return;
      if (lvl.total !== cur.length || lvl.children.some((c, i) => cur[a + i] !== c.id)) return loadChildren(id);
      for (const c of lvl.children) { st.nodes.set(c.id, c); const it = st.items.get(c.id); if (it) paintItem(it, c); }
      again = true;
    }).catch(fail).finally(() => {
      rowLoads.delete(id);
      const w2 = st.win.get(id), cur = st.kids.get(id);
      if (again && w2 && cur && st.items.has(id) && cur.slice(w2.a, w2.b).some((k) => !st.nodes.has(k))) loadRows(id);
    });
  }
  // rowAt is the index of the row of a windowed group at viewport height y.
  function rowAt(group, y, n) {
    for (const e of group.children) {
      const r = e.getBoundingClientRect();
      if (y >= r.bottom) continue;
      if (e.classList.contains('spacer')) return Math.min(Number(e.dataset.to) - 1, Number(e.dataset.from) + Math.max(0, Math.floor((y - r.top) / rowH)));
      return Number(e.getAttribute('aria-posinset')) - 1;
    }
    return n - 1;
  }
  // updateWindows moves the window of each open windowed level in view
  // to the rows in view: all reads first, then the writes.
  const pane = $('.tree-pane');
  function updateWindows() {
    if (!st.win.size) return;
    const pr = pane.getBoundingClientRect(), M = WINDOW_MARGIN, todo = [];
    for (const [id, w] of st.win) {
      const li = st.items.get(id);
      if (!li || !li.isConnected || !st.expanded.has(id) || li.childElementCount < 2) continue;
      const group = li.lastElementChild, gr = group.getBoundingClientRect();
      if (gr.bottom <= pr.top || gr.top >= pr.bottom || !gr.height) continue;
      const n = st.kids.get(id).length;
      const i0 = rowAt(group, Math.max(pr.top, gr.top), n), i1 = rowAt(group, Math.min(pr.bottom, gr.bottom) - 1, n);
      if ((w.a > 0 && i0 - w.a < M / 2) || (w.b < n && w.b - 1 - i1 < M / 2) || w.b - w.a > i1 - i0 + 1 + 4 * M) todo.push([w, id, Math.max(0, i0 - M), Math.min(n, i1 + 1 + M)]);
    }
    for (const [w, id, a, b] of todo) { w.a = a; w.b = b; renderGroup(id); }
    timing.windowMoves = (timing.windowMoves || 0) + todo.length;
  }
  let winFrame = 0;
  function scheduleWindows() {
    if (!winFrame && st.win.size) winFrame = requestAnimationFrame(() => { winFrame = 0; updateWindows(); });
  }
  pane.addEventListener('scroll', scheduleWindows, { passive: true });
  window.addEventListener('resize', scheduleWindows);
  // ensureShown puts a department's item in the document when its level
  // is open, moving the windows of the levels above it to it.
  function ensureShown(id) {
    const chain = [];
    for (let cur = id; cur && !(st.items.get(cur) || {}).isConnected; cur = parentOf(cur)) chain.push(cur);
    for (let j = chain.length - 1; j >= 0; j--) {
      const c = chain[j], p = parentOf(c), w = st.win.get(p);
      if (!w || !st.items.has(p)) continue;
      const i = st.kids.get(p).indexOf(c);
      if (i < 0) continue;
      w.a = Math.max(0, i - WINDOW_MARGIN); w.b = i + WINDOW_MARGIN + 1;
      renderGroup(p);
    }
    return st.items.get(id);
  }

  // fillChildren renders a node's children from their summaries, keeping
  // the items (and open subtrees) of children already shown.
  // ids are all the children's (children may be a page of them, from
  // offset on: then the level is windowed).
  function fillChildren(id, children, ids = children.map((c) => c.id), offset = 0) {
    const li = st.items.get(id);
    st.kids.set(id, ids);
    for (const k of ids) st.parent.set(k, id);
    let group = li.childElementCount > 1 ? li.lastElementChild : null;
    if (!group) { group = el('ul', { role: 'group' }); li.append(group); }
    const level = Number(li.getAttribute('aria-level')) + 1;
    const n = ids.length;
    if (n > WINDOW_MIN) {
      // Summaries not in this page may be stale: they are fetched again
      // when their rows are shown (pinned rows keep theirs: an open one is
      // reloaded on its own, the focused and the selected one with the panel).
      const got = new Set();
      for (const c of children) { got.add(c.id); st.nodes.set(c.id, c); const item = st.items.get(c.id); if (item) paintItem(item, c); }
      for (const k of ids) if (!got.has(k) && !pinned(k)) st.nodes.delete(k);
      if (!st.win.has(id)) st.win.set(id, { a: 0, b: Math.ceil(window.innerHeight / (rowH || 24)) + WINDOW_MARGIN });
      renderGroup(id);
      syncItem(id, li);
      scheduleWindows();
      return;
    }
    st.win.delete(id);
    if (offset > 0 || children.length < n) { loadChildren(id).catch(fail); return; } // a page of a level that shrank: all of it
    // When the same children are shown in the same order (a live refresh
    // of counts or names), they are repainted in place: the items stay in
    // the document, so a click or the focus on one is not lost.
    const shown = group.children;
    const same = shown.length === n && children.every((c, i) => st.items.get(c.id) === shown[i]);
    const frag = document.createDocumentFragment();
    children.forEach((c, i) => {
      st.nodes.set(c.id, c);
      let item = st.items.get(c.id);
      if (item) paintItem(item, c); else item = makeItem(c, level);
      placeItem(item, level, i, n);
      if (!same) frag.append(item);
    });
    if (!same) group.replaceChildren(frag);
    syncItem(id, li);
  }
  // loadChildren (re)loads a level: every child's id and the summaries of
  // the first WINDOW_MIN children, or of the window if the level is
  // windowed, in one request. A level of up to WINDOW_MIN comes whole.
  async function loadChildren(id) {
    const t0 = performance.now();
    const w = st.win.get(id);
    const offset = w ? w.a : 0;
    const lvl = await rest('/api/v2/ui/children', { nodeId: id, ids: true, offset, limit: Math.max(WINDOW_MIN, w ? w.b - w.a : 0) });
    timing.fetchMs = performance.now() - t0;
    if (!st.items.has(id)) return; // dropped meanwhile (scrolled out, deleted)
    st.nodes.set(id, lvl.node);
    paintItem(st.items.get(id), lvl.node);
    fillChildren(id, lvl.children, lvl.ids, lvl.offset);
  }
  async function expand(id) {
    if (st.expanded.has(id)) return;
    const t0 = performance.now();
    if (!ensureShown(id)) return;
    const n = st.nodes.get(id);
    if (n && n.childCount === 0) return;
    // A row known by id only (reveal deep in a long level) gets its
    // summary with its children.
    if (!st.kids.has(id) || !n) await loadChildren(id);
    if (!st.items.has(id) || !(st.nodes.get(id) || {}).childCount) return;
    st.expanded.add(id);
    syncItem(id);
    scheduleWindows();
    timing.lastExpand = performance.now() - t0;
  }
  function collapse(id) { st.expanded.delete(id); syncItem(id); scheduleWindows(); }
  async function toggle(id) { if (st.expanded.has(id)) collapse(id); else await expand(id); }

  function visibleItems() {
    const out = [];
    const walk = [st.rootId];
    while (walk.length) {
      const id = walk.pop();
      out.push(id);
      if (st.expanded.has(id)) { const k = st.kids.get(id) || []; for (let i = k.length - 1; i >= 0; i--) walk.push(k[i]); }
    }
    return out;
  }
  function setFocus(id, focus) {
    const old = st.items.get(st.focused);
    if (old) old.tabIndex = -1;
    st.focused = id;
    const li = ensureShown(id);
    if (!li) return;
    li.tabIndex = 0;
    if (focus) { li.focus({ preventScroll: true }); li.firstChild.scrollIntoView({ block: 'nearest' }); }
  }

  const tree = $('#tree');
  // A spacer stands for rows not in the document: it is not its level's
  // parent, so a click or a drop on one does nothing.
  const itemOf = (e) => (e.target.closest && !e.target.closest('.spacer') ? e.target.closest('[role=treeitem]') : null);
  tree.addEventListener('click', (e) => {
    const li = itemOf(e);
    if (!li) return;
    const id = li.dataset.id;
    setFocus(id, true);
    if (e.target.classList.contains('twisty')) toggle(id).catch(fail);
    else select(id).catch(fail);
  });
  tree.addEventListener('dblclick', (e) => { const li = itemOf(e); if (li) toggle(li.dataset.id).catch(fail); });
  tree.addEventListener('keydown', async (e) => {
    const id = st.focused;
    if (!id) return;
    const n = st.nodes.get(id) || { id, childCount: 0, parentId: parentOf(id) }; // a row still loading
    const vis = () => visibleItems();
    let handled = true;
    try {
      switch (e.key) {
        case 'ArrowDown': { const v = vis(); const i = v.indexOf(id); if (i < v.length - 1) setFocus(v[i + 1], true); break; }
        case 'ArrowUp': { const v = vis(); const i = v.indexOf(id); if (i > 0) setFocus(v[i - 1], true); break; }
        case 'Home': setFocus(st.rootId, true); break;
        case 'End': { const v = vis(); setFocus(v[v.length - 1], true); break; }
        case 'ArrowRight':
          if (n.childCount && !st.expanded.has(id)) await expand(id);
          else if (st.expanded.has(id) && (st.kids.get(id) || []).length) setFocus(st.kids.get(id)[0], true);
          break;
        case 'ArrowLeft':
          if (st.expanded.has(id)) collapse(id); else if (n.parentId) setFocus(n.parentId, true);
          break;
        case 'Enter': case ' ': await select(id); break;
        case '*': {
          // Opens the siblings; not in a windowed level (a request and
          // the rows of each of hundreds of departments).
          const sib = st.kids.get(n.parentId) || [];
          if (sib.length > WINDOW_MIN) say('Too many departments here to open them all (' + sib.length + ').', true);
          else for (const k of sib) await expand(k);
          break;
        }
        case 'F2': await select(id); await editNode(); break;
        case 'Delete': await select(id); await deleteNode(); break;
        case 'x': if (e.ctrlKey || e.metaKey) { markCut(id); } else handled = false; break;
        case 'v': if ((e.ctrlKey || e.metaKey) && st.cut) { const c = st.cut; markCut(''); await moveNode(c, id); } else handled = false; break;
        case 'Escape': markCut(''); break;
        default: handled = false;
      }
    } catch (err) { fail(err); }
    if (handled) e.preventDefault();
  });
  function markCut(id) {
    const old = st.items.get(st.cut);
    if (old) old.classList.remove('cut');
    st.cut = id;
    const li = st.items.get(id);
    if (li) { li.classList.add('cut'); say('Cut "' + nameOf(id) + '": focus the new parent and press Ctrl+V (Esc cancels).'); }
  }

  // drag and drop: the dragged id also lives in a variable, so a drop works
  // whatever the browser lets the page read from dataTransfer.
  let dragId = '';
  tree.addEventListener('dragstart', (e) => {
    const li = e.target.closest('[role=treeitem]');
    if (!li || li.dataset.id === st.rootId) { e.preventDefault(); return; }
    dragId = li.dataset.id;
    if (e.dataTransfer) { e.dataTransfer.setData('text/plain', dragId); e.dataTransfer.effectAllowed = 'move'; }
  });
  const dropRow = (e) => { const li = itemOf(e); return li ? li.firstChild : null; };
  tree.addEventListener('dragover', (e) => { const r = dropRow(e); if (r && dragId) { e.preventDefault(); r.classList.add('drop'); } });
  tree.addEventListener('dragleave', (e) => { const r = dropRow(e); if (r) r.classList.remove('drop'); });
  tree.addEventListener('drop', (e) => {
    const r = dropRow(e);
    if (!r) return;
    e.preventDefault();
    r.classList.remove('drop');
    const from = dragId || (e.dataTransfer && e.dataTransfer.getData('text/plain'));
    dragId = '';
    const to = r.parentElement.dataset.id;
    if (from && to && from !== to) moveNode(from, to).catch(fail);
  });
  tree.addEventListener('dragend', () => { dragId = ''; });

  async function moveNode(id, target) {
    const name = nameOf(id), targetName = nameOf(target); // before the move reloads the levels
    const oldParent = parentOf(id);
    try {
      await gql('mutation($orgId: String!, $nodeId: String!, $targetParentId: String!) { moveNode(orgId: $orgId, nodeId: $nodeId, targetParentId: $targetParentId) { id } }',
        { orgId: st.orgId, nodeId: id, targetParentId: target });
    } catch (err) {
      say('Move refused: "' + name + '" cannot go under "' + targetName + '": ' + err.message + '. Nothing was changed.', true);
      return false;
    }
    await refreshUp(oldParent);
    if (st.expanded.has(target) || st.kids.has(target)) st.kids.delete(target);
    await refreshUp(target);
    if (!st.expanded.has(target)) await expand(target);
    setFocus(id, true);
    await select(id);
    say('Moved "' + name + '" under "' + targetName + '".');
    return true;
  }
  // refreshUp reloads a node's children and the counts of it and each of
  // its ancestors (what a move, delete or member change alters).
  async function refreshUp(id) {
    const chain = [];
    for (let cur = id; cur; cur = parentOf(cur)) chain.push(cur);
    for (const cur of chain) {
      if (!st.items.has(cur)) continue;
      if (st.kids.has(cur) || cur === id) await loadChildren(cur);
    }
  }

  // ---- search ----
  const search = $('#search'), hits = $('#hits');
  let searchTimer = 0, searchAbort = null, searchSeq = 0, lastKey = 0;
  search.addEventListener('input', () => {
    lastKey = performance.now();
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 40);
  });
  async function runSearch() {
    const q = search.value.trim();
    if (searchAbort) searchAbort.abort();
    if (!q) { hits.hidden = true; hits.replaceChildren(); return; }
    const seq = ++searchSeq;
    searchAbort = new AbortController();
    let list;
    try { list = await rest('/api/v2/ui/search', { orgId: st.orgId, q, limit: 20 }, searchAbort.signal); } catch (err) { if (err.name !== 'AbortError') fail(err); return; }
    if (seq !== searchSeq) return;
    hits.replaceChildren(...(list.length ? list.map((h, i) => el('li', { role: 'option', id: 'hit-' + i, 'data-id': h.id, 'aria-selected': i === 0 ? 'true' : 'false' },
      el('span', {}, ...highlight(h.name, q)), el('span', { class: 'path', text: h.namePath.join(' / ') })))
      : [el('li', { class: 'hint', text: 'No department matches "' + q + '".' })]));
    hitData = new Map(list.map((h) => [h.id, h]));
    hits.hidden = false;
    timing.searchLatency = performance.now() - lastKey;
    timing.searchHits = list.length;
  }
  let hitData = new Map();
  function highlight(name, q) {
    const i = name.toLowerCase().indexOf(q.toLowerCase());
    if (i < 0) return [name];
    return [name.slice(0, i), el('mark', { text: name.slice(i, i + q.length) }), name.slice(i + q.length)];
  }
  search.addEventListener('keydown', (e) => {
    const opts = [...hits.querySelectorAll('[role=option]')];
    if (!opts.length) return;
    let i = opts.findIndex((o) => o.getAttribute('aria-selected') === 'true');
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      i = Math.max(0, Math.min(opts.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)));
      opts.forEach((o, j) => o.setAttribute('aria-selected', String(j === i)));
      search.setAttribute('aria-activedescendant', opts[i].id);
      opts[i].scrollIntoView({ block: 'nearest' });
    } else if (e.key === 'Enter') { e.preventDefault(); if (i >= 0) reveal(opts[i].dataset.id).catch(fail); }
    else if (e.key === 'Escape') hits.hidden = true;
  });
  hits.addEventListener('click', (e) => { const o = e.target.closest('[role=option]'); if (o) reveal(o.dataset.id).catch(fail); });
  // reveal opens every ancestor of a hit, then selects and focuses it.
  async function reveal(id) {
    const h = hitData.get(id);
    hits.hidden = true;
    const path = h ? h.path : [id];
    for (const a of path.slice(0, -1)) await expand(a);
    setFocus(id, true);
    await select(id);
  }

  // ---- department panel ----
  const nodeFields = 'id name code description nameI18n descriptionI18n path namePath codePath createdAt updatedAt';
  async function select(id) {
    const old = st.items.get(st.selected);
    if (old) old.setAttribute('aria-selected', 'false');
    st.selected = id;
    const li = st.items.get(id);
    if (li) li.setAttribute('aria-selected', 'true');
    st.members.page = 1;
    $('#app-view').classList.add('show-detail');
    // The message of an earlier action does not belong to this department.
    if (!$('#message').classList.contains('error')) $('#message').hidden = true;
    if (st.tab === 'chart') return drawChart();
    return renderDetails();
  }
  const i18n = (s) => { if (!s) return null; try { const o = JSON.parse(s); return Object.keys(o).length ? o : null; } catch { return null; } };
  async function renderDetails() {
    const id = st.selected;
    const m = st.members;
    // The node's own summary (max=1: no children) comes along, so counts
    // and leader are current even when someone else changed them.
    const [d, self] = await Promise.all([gql(`query($id: String!, $page: Int, $limit: Int, $sortBy: SortByEnum, $inc: Boolean) { nodeById(id: $id) { ${nodeFields}
      users(page: $page, limit: $limit, sortBy: $sortBy, includeChildrenNodes: $inc) { totalCount list { id name username email phone createdAt } }
      authorizedResources { totalCount list { code type actions } } } }`, { id, page: m.page, limit: m.limit, sortBy: m.sortBy, inc: m.include }),
      rest('/api/v2/ui/subtree', { nodeId: id, depth: 1, max: 1 })]);
    if (id !== st.selected) return;
    const fresh = self.nodes[0];
    st.nodes.set(id, fresh);
    if (st.items.has(id)) paintItem(st.items.get(id), fresh);
    const n = d.nodeById, sum = st.nodes.get(id) || {};
    const box = $('#details');
    const dl = el('dl', { class: 'fields' });
    const field = (k, v) => { if (v !== null && v !== undefined && v !== '') dl.append(el('dt', { text: k }), el('dd', {}, v)); };
    field('Name', n.name);
    field('Code', n.code);
    const ni = i18n(n.nameI18n);
    if (ni) field('Names', el('span', {}, ...Object.entries(ni).flatMap(([k, v], i) => [i ? ' · ' : '', el('span', { lang: k, text: k + ': ' + v })])));
    field('Description', n.description);
    const di = i18n(n.descriptionI18n);
    if (di) field('Descriptions', Object.entries(di).map(([k, v]) => k + ': ' + v).join(' · '));
    field('Path', n.namePath.join(' / '));
    if (n.codePath.some(Boolean)) field('Code path', n.codePath.map((c) => c || '–').join(' / '));
    field('Leader', sum.leader);
    field('Members', (sum.memberCount ?? '?') + ' direct, ' + (sum.subtreeCount ?? '?') + ' in the subtree');
    field('Sub-departments', String(sum.childCount ?? ''));
    field('Id', n.id);
    field('Created', n.createdAt); field('Updated', n.updatedAt);
    const isRoot = id === st.rootId;
    const actions = el('div', { class: 'actions' },
      el('button', { type: 'button', id: 'act-add', onclick: () => addNode().catch(fail) }, 'Add sub-department'),
      el('button', { type: 'button', id: 'act-edit', onclick: () => editNode().catch(fail) }, 'Rename / edit'),
      isRoot ? null : el('button', { type: 'button', id: 'act-delete', class: 'danger', onclick: () => deleteNode().catch(fail) }, 'Delete'),
      isRoot ? null : el('button', { type: 'button', id: 'act-cut', onclick: () => { markCut(id); setFocus(id, true); } }, 'Move (Ctrl+X)'));
    // members
    const u = n.users;
    const pages = Math.max(1, Math.ceil(u.totalCount / m.limit));
    const sortSel = el('select', { id: 'member-sort', 'aria-label': 'Sort members' },
      ...[['CREATEDAT_DESC', 'Newest first'], ['CREATEDAT_ASC', 'Oldest first'], ['UPDATEDAT_DESC', 'Recently updated'], ['UPDATEDAT_ASC', 'Least recently updated']]
        .map(([v, t]) => el('option', { value: v, text: t, selected: v === m.sortBy })));
    sortSel.addEventListener('change', () => { m.sortBy = sortSel.value; m.page = 1; renderDetails().catch(fail); });
    const inc = el('input', { type: 'checkbox', id: 'member-include', checked: m.include });
    inc.addEventListener('change', () => { m.include = inc.checked; m.page = 1; renderDetails().catch(fail); });
    const table = el('table', { id: 'members' }, el('thead', {}, el('tr', {}, el('th', { text: 'Name' }), el('th', { text: 'Email / phone' }), el('th', { text: 'Joined' }), el('th', {}, el('span', { class: 'hint', text: '' })))),
      el('tbody', {}, ...u.list.map((x) => el('tr', { 'data-user': x.id }, el('td', { text: x.name || x.username || x.id }), el('td', { text: x.email || x.phone || '' }), el('td', { text: (x.createdAt || '').slice(0, 10) }),
        el('td', {}, m.include ? null : el('button', { type: 'button', class: 'danger', 'aria-label': 'Remove ' + (x.name || x.id), onclick: () => removeMember(x).catch(fail) }, 'Remove'))))));
    const pager = el('div', { class: 'pager' },
      el('button', { type: 'button', id: 'members-prev', disabled: m.page <= 1, onclick: () => { m.page--; renderDetails().catch(fail); } }, '‹ Prev'),
      el('span', { id: 'members-page', text: 'Page ' + m.page + ' of ' + pages + ' · ' + u.totalCount + ' members' }),
      el('button', { type: 'button', id: 'members-next', disabled: m.page >= pages, onclick: () => { m.page++; renderDetails().catch(fail); } }, 'Next ›'));
    const res = n.authorizedResources || { totalCount: 0, list: [] };
    box.replaceChildren(
      el('h2', { text: n.name }), dl, actions,
      el('h3', { text: 'Members' }),
      el('div', { class: 'members-tools' }, el('label', {}, 'Sort ', sortSel), el('label', {}, inc, ' Include sub-departments'),
        el('button', { type: 'button', id: 'act-add-member', onclick: () => addMembers().catch(fail) }, 'Add members')),
      u.list.length ? table : el('p', { class: 'hint', text: 'No members.' }), pager,
      el('h3', { text: 'Authorized resources' }),
      res.list.length ? el('table', { id: 'resources' }, el('thead', {}, el('tr', {}, el('th', { text: 'Code' }), el('th', { text: 'Type' }), el('th', { text: 'Actions' }))),
        el('tbody', {}, ...res.list.map((r) => el('tr', {}, el('td', { text: r.code }), el('td', { text: r.type || '' }), el('td', { text: (r.actions || []).join(', ') })))))
        : el('p', { class: 'hint', text: 'No resources granted to this department.' }));
  }

  // ---- dialogs ----
  function ask(title, fields, okText, danger) {
    const dlg = $('#dialog');
    $('#dialog-title').textContent = title;
    const body = $('#dialog-body');
    body.replaceChildren(...fields.map((f) => f.text ? el('p', { text: f.text }) :
      el('label', {}, f.label, f.area ? el('textarea', { name: f.name, rows: 3 }, f.value || '') : el('input', { name: f.name, value: f.value || '', required: f.required }))));
    $('#dialog-ok').textContent = okText || 'OK';
    $('#dialog-ok').className = danger ? 'danger' : 'primary';
    return new Promise((resolve) => {
      dlg.addEventListener('close', () => {
        if (dlg.returnValue !== 'ok') return resolve(null);
        const out = {};
        for (const f of fields) if (f.name) out[f.name] = body.querySelector(`[name=${f.name}]`).value.trim();
        resolve(out);
      }, { once: true });
      dlg.returnValue = '';
      dlg.showModal();
      const first = body.querySelector('input, textarea');
      if (first) first.focus(); else $('#dialog-cancel').focus();
    });
  }
  async function addNode() {
    const parent = st.selected;
    const v = await ask('Add a sub-department under "' + st.nodes.get(parent).name + '"', [{ name: 'name', label: 'Name', required: true }, { name: 'code', label: 'Code (optional)' }, { name: 'description', label: 'Description', area: true }], 'Add');
    if (!v) return;
    try {
      const d = await gql('mutation($orgId: String!, $parentNodeId: String, $name: String!, $code: String, $description: String) { addNodeV2(orgId: $orgId, parentNodeId: $parentNodeId, name: $name, code: $code, description: $description) { id } }',
        { orgId: st.orgId, parentNodeId: parent, name: v.name, code: v.code || null, description: v.description || null });
      st.kids.delete(parent);
      await refreshUp(parent);
      await expand(parent);
      setFocus(d.addNodeV2.id, true);
      await select(d.addNodeV2.id);
      say('Added "' + v.name + '".');
    } catch (err) { say('Could not add "' + v.name + '": ' + err.message, true); }
  }
  async function editNode() {
    const id = st.selected;
    const d = await gql('query($id: String!) { nodeById(id: $id) { name code description } }', { id });
    const n = d.nodeById;
    const v = await ask('Edit "' + n.name + '"', [{ name: 'name', label: 'Name', value: n.name, required: true }, { name: 'code', label: 'Code', value: n.code || '' }, { name: 'description', label: 'Description', value: n.description || '', area: true }], 'Save');
    if (!v) return;
    const vars = { id, name: v.name };
    if (v.code !== (n.code || '')) vars.code = v.code;
    if (v.description !== (n.description || '')) vars.description = v.description;
    try {
      await gql('mutation($id: String!, $name: String, $code: String, $description: String) { updateNode(id: $id, name: $name, code: $code, description: $description) { id } }', vars);
      await refreshUp(st.nodes.get(id).parentId || id);
      await renderDetails();
      say('Saved "' + v.name + '".');
    } catch (err) { say('Could not save: ' + err.message, true); }
  }
  async function deleteNode() {
    const id = st.selected;
    if (id === st.rootId) { say('The root department cannot be deleted; delete the org instead.', true); return; }
    const n = st.nodes.get(id);
    const sub = await rest('/api/v2/ui/subtree', { nodeId: id, depth: 64, max: 5000 });
    const below = sub.nodes.length - 1;
    const what = (sub.truncated ? 'more than ' : '') + below + ' sub-department' + (below === 1 ? '' : 's');
    const v = await ask('Delete "' + n.name + '"?', [{ text: 'This deletes "' + n.name + '" and ' + what + ' below it, and removes ' + n.subtreeCount + ' member' + (n.subtreeCount === 1 ? '' : 's') + ' from them (the users stay). It cannot be undone.' }], 'Delete ' + (below + 1) + ' departments', true);
    if (!v) return;
    try {
      await gql('mutation($orgId: String!, $nodeId: String!) { deleteNode(orgId: $orgId, nodeId: $nodeId) { code message } }', { orgId: st.orgId, nodeId: id });
    } catch (err) { say('Could not delete: ' + err.message, true); return; }
    const parent = n.parentId;
    forget(id);
    await refreshUp(parent);
    setFocus(parent, true);
    await select(parent);
    say('Deleted "' + n.name + '" and ' + what + '.');
  }
  function forget(id) {
    const stack = [id];
    while (stack.length) { const c = stack.pop(); for (const k of st.kids.get(c) || []) stack.push(k); st.items.delete(c); st.nodes.delete(c); st.kids.delete(c); st.expanded.delete(c); st.win.delete(c); st.parent.delete(c); }
  }
  async function addMembers() {
    const id = st.selected;
    const v = await ask('Add members to "' + st.nodes.get(id).name + '"', [{ name: 'ids', label: 'User ids (separated by commas or spaces)', required: true }], 'Add');
    if (!v) return;
    const userIds = v.ids.split(/[\s,]+/).filter(Boolean);
    try {
      await gql('mutation($nodeId: String, $userIds: [String!]!) { addMember(nodeId: $nodeId, userIds: $userIds) { id } }', { nodeId: id, userIds });
    } catch (err) { say('Could not add members: ' + err.message, true); return; }
    await refreshUp(id);
    await renderDetails();
    say('Added ' + userIds.length + ' member' + (userIds.length === 1 ? '' : 's') + '.');
  }
  async function removeMember(u) {
    const id = st.selected;
    const v = await ask('Remove ' + (u.name || u.id) + '?', [{ text: 'Removes ' + (u.name || u.id) + ' from "' + st.nodes.get(id).name + '" (the user stays).' }], 'Remove', true);
    if (!v) return;
    try {
      await gql('mutation($nodeId: String, $userIds: [String!]!) { removeMember(nodeId: $nodeId, userIds: $userIds) { id } }', { nodeId: id, userIds: [u.id] });
    } catch (err) { say('Could not remove: ' + err.message, true); return; }
    await refreshUp(id);
    await renderDetails();
    say('Removed ' + (u.name || u.id) + '.');
  }

  // ---- tabs ----
  function showTab(tab) {
    st.tab = tab;
    $('#tab-details').setAttribute('aria-selected', String(tab === 'details'));
    $('#tab-chart').setAttribute('aria-selected', String(tab === 'chart'));
    $('#details').hidden = tab !== 'details';
    $('#chart').hidden = tab !== 'chart';
    if (st.selected) (tab === 'chart' ? drawChart() : renderDetails()).catch(fail);
  }
  $('#tab-details').addEventListener('click', () => showTab('details'));
  $('#tab-chart').addEventListener('click', () => showTab('chart'));
  $('#show-tree').addEventListener('click', () => $('#app-view').classList.remove('show-detail'));

  // ---- org chart ----
  const SVGNS = 'http://www.w3.org/2000/svg';
  const svgEl = (tag, attrs, ...kids) => { const e = document.createElementNS(SVGNS, tag); for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v); for (const c of kids) e.append(c); return e; };
  const BOX_W = 168, BOX_H = 58, GAP_X = 16, GAP_Y = 56;
  let view = null; // {x, y, w, h, full}
  async function drawChart() {
    const id = st.selected;
    const sub = await rest('/api/v2/ui/subtree', { nodeId: id, depth: $('#chart-depth').value, max: 400 });
    if (id !== st.selected) return;
    const byId = new Map(sub.nodes.map((n) => [n.id, { n, kids: [], x: 0, depth: 0 }]));
    const root = byId.get(id);
    for (const n of sub.nodes) if (n.id !== id && byId.has(n.parentId)) byId.get(n.parentId).kids.push(byId.get(n.id));
    // Tidy-ish layout: leaves take consecutive slots, a parent sits over
    // the middle of its children. Iterative post-order.
    let slot = 0, maxDepth = 0;
    const order = [], stack = [[root, 0]];
    while (stack.length) { const [v, d] = stack.pop(); v.depth = d; maxDepth = Math.max(maxDepth, d); order.push(v); for (let i = v.kids.length - 1; i >= 0; i--) stack.push([v.kids[i], d + 1]); }
    for (const v of order) if (!v.kids.length) v.x = slot++;
    for (let i = order.length - 1; i >= 0; i--) { const v = order[i]; if (v.kids.length) v.x = (v.kids[0].x + v.kids[v.kids.length - 1].x) / 2; }
    const W = Math.max(1, slot) * (BOX_W + GAP_X) + GAP_X, H = (maxDepth + 1) * (BOX_H + GAP_Y) + GAP_Y;
    const px = (v) => GAP_X + v.x * (BOX_W + GAP_X), py = (v) => GAP_Y / 2 + v.depth * (BOX_H + GAP_Y);
    const svg = svgEl('svg', { xmlns: SVGNS, id: 'orgchart', role: 'img', 'aria-label': 'Org chart of ' + root.n.name, viewBox: `0 0 ${W} ${H}`, 'font-family': 'system-ui, Noto Sans CJK SC, sans-serif' });
    svg.append(svgEl('title', {}, 'Org chart of ' + root.n.name));
    const lines = svgEl('g', { fill: 'none', stroke: '#98a2b3', 'stroke-width': '1.5' });
    const boxes = svgEl('g', {});
    for (const v of order) {
      const x = px(v), y = py(v);
      for (const k of v.kids) {
        const mx = y + BOX_H + GAP_Y / 2;
        lines.append(svgEl('path', { d: `M${x + BOX_W / 2},${y + BOX_H} V${mx} H${px(k) + BOX_W / 2} V${py(k)}` }));
      }
      const g = svgEl('g', { transform: `translate(${x},${y})`, 'data-id': v.n.id });
      const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);
      g.append(svgEl('rect', { width: BOX_W, height: BOX_H, rx: 8, fill: v === root ? '#e4edfc' : '#ffffff', stroke: v === root ? '#2f6fde' : '#d0d5dd' }),
        svgEl('text', { x: BOX_W / 2, y: 20, 'text-anchor': 'middle', 'font-size': 13, 'font-weight': 600, fill: '#1d2433' }, clip(v.n.name, 16)),
        svgEl('text', { x: BOX_W / 2, y: 37, 'text-anchor': 'middle', 'font-size': 11, fill: '#475467' }, v.n.leader ? 'Leader: ' + clip(v.n.leader, 14) : 'No leader'),
        svgEl('text', { x: BOX_W / 2, y: 51, 'text-anchor': 'middle', 'font-size': 10, fill: '#667085' }, v.n.memberCount + ' / ' + v.n.subtreeCount + ' members' + (v.n.childCount && !v.kids.length ? ' · +' + v.n.childCount : '')));
      g.append(svgEl('title', {}, v.n.name));
      boxes.append(g);
    }
    svg.append(lines, boxes);
    $('#chart-box').replaceChildren(svg);
    // Open at 1:1 over the subtree's root (a wide chart is unreadable when
    // fitted); Fit shows it whole.
    const r = $('#chart-box').getBoundingClientRect();
    const cw = Math.max(200, r.width), ch = Math.max(200, r.height);
    view = { x: W <= cw ? (W - cw) / 2 : Math.min(W - cw, Math.max(0, px(root) + BOX_W / 2 - cw / 2)), y: 0, w: cw, h: ch, full: [W, H] };
    if (W <= cw && H <= ch) view.y = (H - ch) / 2;
    applyView();
    $('#chart-note').textContent = sub.nodes.length + ' departments' + (sub.truncated ? ' (cut at 400: pick a lower level or fewer levels)' : '');
    svg.addEventListener('click', (e) => { const g = e.target.closest('[data-id]'); if (g && g.dataset.id !== st.selected && !panned) { reveal(g.dataset.id).catch(fail); } });
  }
  $('#chart-depth').addEventListener('change', () => drawChart().catch(fail));
  function applyView() { const s = $('#orgchart'); if (s && view) s.setAttribute('viewBox', `${view.x} ${view.y} ${view.w} ${view.h}`); }
  function zoom(f, cx = 0.5, cy = 0.5) {
    if (!view) return;
    const nw = view.w * f, nh = view.h * f;
    view.x += (view.w - nw) * cx; view.y += (view.h - nh) * cy; view.w = nw; view.h = nh; applyView();
  }
  $('#zoom-in').addEventListener('click', () => zoom(0.8));
  $('#zoom-out').addEventListener('click', () => zoom(1.25));
  $('#zoom-fit').addEventListener('click', () => { if (view) { view.x = 0; view.y = 0; [view.w, view.h] = view.full; applyView(); } });
  const box = $('#chart-box');
  box.addEventListener('wheel', (e) => { if (!view) return; e.preventDefault(); const r = box.getBoundingClientRect(); zoom(e.deltaY < 0 ? 0.9 : 1.1, (e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height); }, { passive: false });
  let pan = null, panned = false;
  box.addEventListener('pointerdown', (e) => { if (!view) return; pan = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y }; panned = false; });
  box.addEventListener('pointermove', (e) => {
    if (!pan) return;
    const r = box.getBoundingClientRect();
    const s = Math.max(view.w / r.width, view.h / r.height);
    if (Math.abs(e.clientX - pan.x) + Math.abs(e.clientY - pan.y) > 3) panned = true;
    view.x = pan.vx - (e.clientX - pan.x) * s; view.y = pan.vy - (e.clientY - pan.y) * s; applyView();
  });
  window.addEventListener('pointerup', () => { pan = null; setTimeout(() => { panned = false; }, 0); });

  function chartSource() {
    const s = $('#orgchart');
    if (!s) return '';
    const c = s.cloneNode(true);
    c.setAttribute('viewBox', `0 0 ${view.full[0]} ${view.full[1]}`);
    c.setAttribute('width', view.full[0]); c.setAttribute('height', view.full[1]);
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(c);
  }
  function download(blob, name) {
    const a = el('a', { href: URL.createObjectURL(blob), download: name });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
  const chartName = () => 'orgchart-' + (st.nodes.get(st.selected) || { name: 'org' }).name.replace(/[\\/:*?"<>|\s]+/g, '_');
  $('#export-svg').addEventListener('click', () => {
    const src = chartSource();
    if (!src) return;
    window.orgtreeLastExport = { type: 'image/svg+xml', text: src };
    download(new Blob([src], { type: 'image/svg+xml' }), chartName() + '.svg');
  });
  $('#export-png').addEventListener('click', () => {
    const src = chartSource();
    if (!src) return;
    const img = new Image();
    img.onload = () => {
      const scale = Math.min(2, 16000 / Math.max(view.full[0], view.full[1]));
      const cv = el('canvas', { width: Math.round(view.full[0] * scale), height: Math.round(view.full[1] * scale) });
      const ctx = cv.getContext('2d');
      ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, cv.width, cv.height);
      ctx.scale(scale, scale); ctx.drawImage(img, 0, 0);
      cv.toBlob((b) => { window.orgtreeLastExport = { type: 'image/png', size: b.size }; download(b, chartName() + '.png'); }, 'image/png');
    };
    img.onerror = () => say('PNG export failed: the browser could not draw the chart.', true);
    img.src = URL.createObjectURL(new Blob([src], { type: 'image/svg+xml' }));
  });

  function fail(err) { console.error(err); say(err.message || String(err), true); }

  // A token from earlier in this browser session opens the app directly.
  if (session.token) start().catch((err) => { fail(err); signOut(err.message); });
})();
