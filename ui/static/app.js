// Shared code of the Noctua pages: the token (read once, then kept out of
// the address bar), the time range in the URL and its picker, formatting,
// safe DOM building and patching (updates change text in place, so a
// selection, a tooltip or a click survives them), uPlot charts with a
// shared crosshair, and the live websocket subscriptions with reconnect,
// backoff, freshness and clear error messages.
'use strict';

const Noctua = (() => {
  const params = new URLSearchParams(location.search);
  // The token comes from ?token= once: it is kept in this tab's storage and
  // removed from the address bar (and so from history, bookmarks and
  // screenshots of the wall).
  if (params.has('token')) {
    sessionStorage.setItem('noctua.token', params.get('token'));
    params.delete('token');
    history.replaceState(null, '', location.pathname + (params.toString() ? '?' + params : '') + location.hash);
  }
  const token = () => sessionStorage.getItem('noctua.token') || '';

  function withToken(url) {
    if (!token()) return url;
    return url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token());
  }

  // el builds an element; children are nodes or text (never parsed as HTML).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role') e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  // setText changes a node's text only when it differs: an unchanged node
  // keeps its selection.
  function setText(n, text) {
    text = String(text);
    if (n.textContent !== text) n.textContent = text;
  }
  function setAttr(n, k, v) {
    if (v === null || v === undefined) { if (n.hasAttribute(k)) n.removeAttribute(k); return; }
    v = String(v);
    if (n.getAttribute(k) !== v) n.setAttribute(k, v);
  }
  // setContent rebuilds n's children only when sig changed.
  function setContent(n, sig, build) {
    if (n.dataset.sig === sig) return;
    n.dataset.sig = sig;
    n.replaceChildren(...[build()].flat().filter((c) => c !== null && c !== undefined));
  }
  // keyed patches parent's children to items: an existing child (by key)
  // is kept and updated, a new one made, a gone one removed, and nodes are
  // moved only when the order changed.
  function keyed(parent, items, key, make, update) {
    const old = new Map();
    for (const c of parent.children) old.set(c.dataset.key, c);
    let prev = null;
    for (const it of items) {
      const k = String(key(it));
      let n = old.get(k);
      if (n) old.delete(k); else { n = make(it); n.dataset.key = k; }
      update(n, it);
      const want = prev ? prev.nextSibling : parent.firstChild;
      if (n !== want) parent.insertBefore(n, want);
      prev = n;
    }
    for (const n of old.values()) n.remove();
  }

  const fmt = {
    rps: (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)),
    pct: (v) => (v >= 10 ? v.toFixed(1) : v.toFixed(2)) + '%',
    ms: (v) => (!v ? '–' : v >= 1000 ? (v / 1000).toFixed(2) + ' s' : v >= 10 ? v.toFixed(0) + ' ms' : v.toFixed(1) + ' ms'),
    t: (ms) => (ms >= 1000 ? (ms / 1000) + 's' : (ms / 1000).toString()),
    // Apdex is always shown with its T, as apdex.org asks: "0.91 [0.5]".
    apdex: (a) => (a.score === null || a.score === undefined ? '– [' + fmt.t(a.t_ms) + ']'
      : a.score.toFixed(2) + ' [' + fmt.t(a.t_ms) + (a.t_mixed ? '*' : '') + ']' + (a.small_sample ? ' ⚠' : '')),
    share: (v) => (100 * (v || 0)).toFixed(v >= 0.1 ? 0 : 1) + '%',
    classes: (m) => {
      const c = m.errors_by_class || {};
      return `${c.business || 0} / ${c.application || 0} / ${c.system || 0}`;
    },
    clock: (ts) => new Date(ts).toISOString().slice(11, 16) + ' UTC',
    ago: (ts) => {
      const s = Math.max(0, (Date.now() - new Date(ts).getTime()) / 1000);
      return s < 90 ? `${s.toFixed(0)} s` : s < 5400 ? `${(s / 60).toFixed(0)} min` : `${(s / 3600).toFixed(1)} h`;
    },
  };

  // errorMessage turns an API error into what a person should do about it.
  function errorMessage(status, msg) {
    if (status === 401) return { kind: 'unauthorized', text: 'No valid access token. Open the link you were given (it ends in ?token=…) or paste your token below.' };
    if (status === 403) return { kind: 'forbidden', text: `Your token may not see this page: ${msg}. A squad token sees its own domain only.` };
    if (status === 404) return { kind: 'notfound', text: `Not found: ${msg}. Check the address, or go back to the NOC page.` };
    if (status === 400) return { kind: 'badrequest', text: `Bad address: ${msg}.` };
    return { kind: 'error', text: `The server answered an error: ${msg}` };
  }
  // statusOf maps a websocket error frame to an HTTP-like status.
  function statusOf(msg) {
    if (/^forbidden/.test(msg)) return 403;
    if (/^not found/.test(msg)) return 404;
    if (/^unauthorized/.test(msg)) return 401;
    if (/^bad request/.test(msg)) return 400;
    return 500;
  }
  // showProblem shows a message in place of the page's data (#problem).
  function showProblem(p) {
    const box = document.getElementById('problem');
    document.body.dataset.problem = p ? p.kind : '';
    if (!box) return;
    box.hidden = !p;
    if (!p) return;
    const parts = [el('strong', {}, p.kind === 'unauthorized' ? 'Sign in needed' : p.kind === 'forbidden' ? 'Not allowed'
      : p.kind === 'notfound' ? 'Not found' : 'Problem'), ' ', el('span', { class: 'msg' }, p.text)];
    if (p.kind === 'unauthorized') {
      const form = el('form', { class: 'token-form' },
        el('input', { name: 'token', type: 'password', placeholder: 'access token', autocomplete: 'off', size: 30, 'aria-label': 'access token' }),
        el('button', { type: 'submit' }, 'use this token'));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        sessionStorage.setItem('noctua.token', form.elements.token.value.trim());
        location.reload();
      });
      parts.push(form);
    } else if (p.kind === 'forbidden' || p.kind === 'notfound') {
      parts.push(' ', el('a', { href: 'index.html' }, 'NOC page'));
    }
    box.replaceChildren(...parts);
  }

  async function getJSON(url) {
    const r = await fetch(withToken(url));
    if (!r.ok) {
      let msg = await r.text();
      try { msg = JSON.parse(msg).error || msg; } catch (e) { /* not JSON */ }
      const err = new Error(msg);
      err.status = r.status;
      throw err;
    }
    return r.json();
  }

  // The time range, kept in the URL: range=live|15m|1h|6h|24h|7d, or
  // from=&to= (RFC 3339) for a fixed one (custom, or a zoom on a chart).
  const RANGES = [['live', 'live'], ['15m', '15 min'], ['1h', '1 h'], ['6h', '6 h'], ['24h', '24 h'], ['7d', '7 d']];
  const SPAN = { live: 300, '15m': 900, '1h': 3600, '6h': 21600, '24h': 86400, '7d': 604800 };
  function stepFor(seconds) {
    const want = seconds / 90;
    for (const s of [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200]) if (s >= want) return s;
    return 7200;
  }
  const durStr = (s) => (s % 3600 === 0 ? s / 3600 + 'h' : s % 60 === 0 ? s / 60 + 'm' : s + 's');
  function currentRange(dflt) {
    const from = params.get('from'), to = params.get('to');
    if (from && to && !isNaN(Date.parse(from)) && !isNaN(Date.parse(to)) && Date.parse(from) < Date.parse(to)) {
      const span = (Date.parse(to) - Date.parse(from)) / 1000;
      return { fixed: true, from, to, step: durStr(stepFor(span)), label: `${from.replace('T', ' ').slice(0, 16)} → ${to.replace('T', ' ').slice(0, 16)} UTC`,
        query: { from, to, step: durStr(stepFor(span)) } };
    }
    let r = params.get('range') || dflt || '1h';
    if (!(r in SPAN)) r = dflt || '1h';
    const span = SPAN[r];
    return { fixed: false, name: r, range: r === 'live' ? '5m' : r, step: durStr(stepFor(span)),
      label: r === 'live' ? 'live · last 5 min' : 'last ' + RANGES.find((x) => x[0] === r)[1],
      query: { range: r === 'live' ? '5m' : r, step: durStr(stepFor(span)) } };
  }
  // rangeQuery returns "range=…" or "from=…&to=…" for links and REST.
  function rangeQuery(r) {
    return r.fixed ? `from=${encodeURIComponent(r.from)}&to=${encodeURIComponent(r.to)}` : `range=${r.name}`;
  }
  // goRange navigates this page to another range (the URL keeps it, so a
  // link shows what its sender saw).
  function goRange(next) {
    const p = new URLSearchParams(location.search);
    for (const k of ['range', 'from', 'to']) p.delete(k);
    for (const [k, v] of Object.entries(next)) p.set(k, v);
    location.assign(location.pathname + '?' + p.toString());
  }
  // rangePicker fills #range-picker: the presets, a custom from/to, and the
  // current range highlighted.
  function rangePicker(r) {
    const box = document.getElementById('range-picker');
    if (!box) return;
    const buttons = RANGES.map(([k, label]) => el('button', { type: 'button', class: !r.fixed && r.name === k ? 'on' : '', 'data-range': k,
      onclick: () => goRange({ range: k }) }, label));
    const toLocal = (d) => new Date(d).toISOString().slice(0, 16);
    const now = Date.now();
    const from = el('input', { type: 'datetime-local', name: 'from', value: toLocal(r.fixed ? r.from : now - (SPAN[r.name] || 3600) * 1000), 'aria-label': 'from (UTC)' });
    const to = el('input', { type: 'datetime-local', name: 'to', value: toLocal(r.fixed ? r.to : now), 'aria-label': 'to (UTC)' });
    const custom = el('form', { class: 'custom' + (r.fixed ? ' on' : '') }, 'custom (UTC) ', from, ' → ', to, el('button', { type: 'submit' }, 'apply'));
    custom.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const f = new Date(from.value + ':00Z'), t = new Date(to.value + ':00Z');
      if (isNaN(f) || isNaN(t) || f >= t) { custom.classList.add('bad'); return; }
      goRange({ from: f.toISOString().replace('.000', ''), to: t.toISOString().replace('.000', '') });
    });
    box.replaceChildren(...buttons, custom);
    const lbl = document.getElementById('range');
    if (lbl) lbl.textContent = r.label;
  }

  // chart makes a uPlot time-series chart in box. series: [{label, color,
  // fmt}]; its update(xs, ...ys) sets the data in place (no rebuild). All
  // charts of a page share the crosshair and zoom by dragging (the zoom
  // becomes the page's fixed range). markers() returns times (ms) drawn as
  // red lines: incidents.
  const charts = [];
  // timeLabel writes an axis time in UTC: HH:MM, with the day for ranges
  // over a day.
  function timeLabel(v, u) {
    const iso = new Date(v * 1000).toISOString();
    const span = u.scales.x.max - u.scales.x.min;
    return span > 86400 ? iso.slice(5, 10) + ' ' + iso.slice(11, 16) : iso.slice(11, 16);
  }
  function chart(box, opts) {
    const css = getComputedStyle(document.documentElement);
    const axis = { stroke: css.getPropertyValue('--dim') || '#8b949e', grid: { stroke: '#21262d', width: 1 }, ticks: { stroke: '#30363d' }, font: '12px system-ui' };
    const width = () => Math.max(160, box.clientWidth || 300);
    const u = new uPlot({
      width: width(), height: opts.height || 120, title: opts.title,
      cursor: { sync: { key: 'noctua', setSeries: false }, drag: { x: true, y: false } },
      legend: { show: opts.legend !== false, live: true },
      scales: { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      axes: [{ ...axis, space: 70, size: 22, values: (u, vs) => vs.map((v) => timeLabel(v, u)) },
        { ...axis, size: 54, space: 24, values: (u, vs) => vs.map((v) => (opts.yfmt ? opts.yfmt(v) : v)) }],
      series: [{}, ...opts.series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, fill: s.fill, spanGaps: false,
        value: (u, v) => (v === null || v === undefined ? '–' : (s.fmt ? s.fmt(v) : v.toFixed(2))) }))],
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 5) return;
          const f = u.posToVal(u.select.left, 'x'), t = u.posToVal(u.select.left + u.select.width, 'x');
          goRange({ from: new Date(f * 1000).toISOString().replace(/\.\d+Z$/, 'Z'), to: new Date(t * 1000).toISOString().replace(/\.\d+Z$/, 'Z') });
        }],
        draw: [(u) => {
          const ms = opts.markers ? opts.markers() : [];
          const { ctx } = u;
          for (const m of ms) {
            const x = u.valToPos(m / 1000, 'x', true);
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
            ctx.save(); ctx.strokeStyle = '#f85149'; ctx.setLineDash([4, 3]); ctx.lineWidth = 2;
            ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke(); ctx.restore();
          }
        }],
      },
    }, [[], ...opts.series.map(() => [])], box);
    if (opts.onClick) {
      u.over.addEventListener('click', () => {
        const i = u.cursor.idx;
        if (i !== null && i !== undefined && u.data[0][i] !== undefined) opts.onClick(u.data[0][i] * 1000);
      });
    }
    const c = {
      u,
      update(xs, ...ys) { u.setData([xs, ...ys]); box.dataset.points = String(xs.length); },
    };
    charts.push({ u, box });
    box.uplot = u; // for tests and the console
    return c;
  }
  let resizeQueued = false;
  window.addEventListener('resize', () => {
    if (resizeQueued) return;
    resizeQueued = true;
    requestAnimationFrame(() => {
      resizeQueued = false;
      for (const c of charts) if (c.box.isConnected) c.u.setSize({ width: Math.max(160, c.box.clientWidth), height: c.u.height });
    });
  });
  // seriesData returns uPlot's columns for points over [from, to): the step
  // starts in seconds, then one column per field, null for the steps
  // without requests (so that a gap shows as one).
  function seriesData(points, from, to, stepMs, fields) {
    const byTs = new Map(points.map((p) => [Math.floor(Date.parse(p.ts) / 1000), p]));
    const xs = [];
    const ys = fields.map(() => []);
    if (stepMs > 0) {
      const step = stepMs / 1000;
      // The server's steps start at the range's start (rounded up to 10 s):
      // line up on its first point when there is one.
      const f = Date.parse(from) / 1000, end = Date.parse(to) / 1000;
      const t0 = points.length ? Math.floor(Date.parse(points[0].ts) / 1000) : Math.ceil(f / 10) * 10;
      const start = t0 - Math.floor((t0 - f) / step) * step;
      for (let t = start; t < end && xs.length < 2000; t += step) {
        xs.push(t);
        const p = byTs.get(t);
        fields.forEach((f, i) => ys[i].push(p ? f(p) : null));
      }
    }
    return [xs, ...ys];
  }

  // live subscribes to views over one websocket and calls onData(id, data)
  // with each snapshot and update. It reconnects after a server restart or
  // a network loss with backoff (1 s doubling to 30 s, with jitter, at once
  // when the browser comes back online) and resubscribes; #live shows how
  // fresh the numbers are and the page greys out (body[data-stale]) when
  // they stop. An error frame (403, 404) shows its message instead of the
  // data; a missing or bad token stops retrying and asks for one.
  // joined holds the page's live connection for add-ons that subscribe to
  // it (subscribe), and the subscriptions that came before it opened.
  const joined = { send: null, subs: [], handlers: new Map() };

  // subscribe adds a subscription to the page's live connection (one
  // websocket per tab), calling onData with each snapshot and update; it
  // reports false when the page has no live connection (a fixed range),
  // for the caller to fetch by REST instead.
  function subscribe(sub, onData) {
    if (!joined.live) return false;
    joined.handlers.set(sub.id, onData);
    joined.subs.push(sub);
    if (joined.send) joined.send(sub);
    return true;
  }

  function live(subs, onData) {
    joined.live = true;
    const status = document.getElementById('live');
    const interval = 1000;
    let lastMsg = 0, lastSeq = 0, gaps = 0, backoff = 1000, ws = null, retryAt = 0, timer = null, failures = 0, stopped = false;
    const errors = new Map();
    function show() {
      const age = lastMsg ? (Date.now() - lastMsg) / 1000 : Infinity;
      const fresh = ws && ws.readyState === WebSocket.OPEN && age < Math.max(5, 5 * interval / 1000);
      const stale = !fresh && lastMsg > 0;
      if (errors.size) { // a 403 or 404 is not "live"
        status.className = 'live stale';
        setText(status, 'error: ' + [...errors.values()][0].replace(/:.*/, ''));
        return;
      }
      status.className = 'live ' + (fresh ? 'fresh' : 'stale');
      if (stale) document.body.dataset.stale = 'true'; else delete document.body.dataset.stale;
      const retry = retryAt > Date.now() ? ` · reconnecting in ${Math.ceil((retryAt - Date.now()) / 1000)} s` : ws && ws.readyState === WebSocket.CONNECTING ? ' · reconnecting…' : '';
      setText(status, stopped ? 'stopped' : !lastMsg ? 'connecting…' + retry
        : fresh ? `live · updated ${age.toFixed(0)} s ago` + (gaps ? ` · ${gaps} gap(s)` : '')
          : `STALE · last update ${age.toFixed(0)} s ago` + retry);
    }
    setInterval(show, 1000);
    async function checkAuth() {
      try {
        await getJSON('/api/v1/whoami');
        return true;
      } catch (e) {
        if (e.status === 401) { stopped = true; showProblem(errorMessage(401, e.message)); show(); return false; }
        return true; // server down: keep retrying
      }
    }
    function schedule() {
      if (stopped || timer) return;
      const wait = backoff * (0.8 + 0.4 * Math.random());
      retryAt = Date.now() + wait;
      backoff = Math.min(backoff * 2, 30000);
      timer = setTimeout(() => { timer = null; retryAt = 0; connect(); }, wait);
      show();
    }
    async function connect() {
      if (stopped) return;
      if (failures >= 2 && !(await checkAuth())) return;
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      const sock = new WebSocket(withToken(`${proto}//${location.host}/ws`));
      ws = sock;
      sock.onopen = () => {
        backoff = 1000; failures = 0; lastSeq = 0;
        const send = (s) => sock.send(JSON.stringify({ type: 'subscribe', ...s }));
        for (const s of subs) send(s);
        for (const s of joined.subs) send(s);
        joined.send = send;
        show();
      };
      sock.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        if (m.seq) {
          if (lastSeq && m.seq !== lastSeq + 1) gaps++;
          lastSeq = m.seq;
          document.body.dataset.seq = String(m.seq);
        }
        lastMsg = Date.now();
        if (m.type === 'error') {
          errors.set(m.id, m.error);
          showProblem(errorMessage(statusOf(m.error), m.error));
        } else if ((m.type === 'snapshot' || m.type === 'update') && m.data) {
          if (errors.delete(m.id) && !errors.size) showProblem(null);
          const h = joined.handlers.get(m.id);
          if (h) h(m.data); else onData(m.id, m.data);
        }
        show();
      };
      sock.onclose = () => {
        if (ws !== sock) return;
        joined.send = null;
        failures++;
        schedule();
      };
    }
    window.addEventListener('online', () => { if (timer) { clearTimeout(timer); timer = null; backoff = 1000; connect(); } });
    checkAuth().then((ok) => { if (ok) connect(); });
    show();
  }

  // once fetches a fixed range's views by REST (a fixed range does not
  // change: no subscription), showing errors as live does.
  async function once(urls, onData) {
    const status = document.getElementById('live');
    for (const [id, url] of urls) {
      try {
        onData(id, await getJSON(url));
        setText(status, 'fixed range · not live');
        status.className = 'live fixed';
      } catch (e) {
        showProblem(errorMessage(e.status, e.message));
        setText(status, 'error');
      }
    }
  }

  async function whoami() {
    const who = document.getElementById('who');
    try {
      const w = await getJSON('/api/v1/whoami');
      who.textContent = w.role === 'squad' ? `squad: ${w.domain}` : (w.role || 'noc').toUpperCase();
      document.body.dataset.role = w.role || 'noc';
      return w;
    } catch (e) {
      who.textContent = e.status === 401 ? 'not signed in' : '';
      if (e.status === 401) showProblem(errorMessage(401, e.message));
      return null;
    }
  }

  // The error classes of the taxonomy; anything else is shown as "other".
  const CLASSES = ['business', 'application', 'system'];
  function clsOf(c) { return CLASSES.includes(c) ? c : 'other'; }

  // codeBadge shows one error code with its class colour and, when c has
  // one, its count: "PAY-TIMEOUT ×8"; the title carries class and share.
  function codeBadge(c) {
    const cls = clsOf(c.class);
    const counted = c.count !== undefined;
    return el('span', { class: 'code cls-' + cls, 'data-code': c.code, 'data-class': cls,
      title: `${c.code} · ${c.class || 'no class'}` + (counted ? ` · ${c.count} line(s) · ${fmt.share(c.share)} of error lines` : '') },
    c.code, counted ? el('span', { class: 'cnt' }, ' ×' + c.count) : null);
  }

  // The logs summary of a view is absent when the server is older; treat
  // that as no logs.
  function logsOf(x) {
    return (x && x.logs) || { lines: 0, errors: 0, timeouts: 0, retries: 0, codes: [], errors_by_class: {}, by_level: {} };
  }

  // logLine is a row's "top code" line with its timeouts and retries, in a
  // tag ('div' in a tile, 'td' in a table).
  function logLine(l, tag) {
    const top = (l.codes || [])[0];
    return el(tag || 'div', { class: 'logline', 'data-metric': 'top-code', 'data-code': top ? top.code : '' },
      top ? ['top code ', codeBadge(top)] : el('span', { class: 'dim' }, 'no error logs'),
      ` · timeouts ${l.timeouts || 0} · retries ${l.retries || 0}`);
  }

  // topCodes shows a row's three most frequent codes.
  function topCodes(l) {
    const cs = (l.codes || []).slice(0, 3);
    return cs.length ? cs.map((c) => [codeBadge(c), ' ']).flat() : el('span', { class: 'dim' }, '–');
  }

  // spanCodes shows the top span error codes of a row's failed requests
  // (its metrics' error_codes), at most n: "SYS-504 ×12 1.2%" each, the
  // percentage being the code's part of the row's error %; '–' without any.
  function spanCodes(m, n) {
    const cs = ((m && m.error_codes) || []).slice(0, n || 5);
    if (!cs.length) return el('span', { class: 'dim' }, '–');
    return cs.map((c) => [el('span', { class: 'code cls-' + clsOf(c.class), 'data-code': c.code, 'data-class': clsOf(c.class), 'data-count': String(c.count),
      title: `${c.code} · ${c.class || 'no class'} · ${c.count} failed request(s) · ${fmt.share(c.share)} of the errors · ${fmt.pct(c.error_pct)} of the requests` },
    c.code, el('span', { class: 'cnt' }, ' ×' + c.count + ' ' + fmt.pct(c.error_pct))), ' ']).flat();
  }

  function apdexCell(a) {
    return el('td', { class: 'n apdex r-' + (a.rating || 'nodata'), title: `S ${a.satisfied} / T ${a.tolerating} / F ${a.frustrated}` + (a.t_mixed ? ' · * mixed T: each API against its own T' : '') }, fmt.apdex(a));
  }

  // row patches a table row's cells: cells is [[metric, text or {sig,
  // build}, class?]], one td per entry, made once and updated in place.
  function rowCells(tr, cells) {
    cells.forEach(([metric, v, cls], i) => {
      let td = tr.children[i];
      if (!td) { td = el('td'); tr.append(td); }
      setAttr(td, 'data-metric', metric);
      if (cls !== undefined) setAttr(td, 'class', cls);
      if (v && typeof v === 'object' && v.build) setContent(td, v.sig, v.build);
      else setText(td, v);
    });
  }

  // keepDecorated runs decorate now and again after every change the page
  // makes to root's children or classes (the NOC page patches its tiles in
  // place every second), without reacting to its own changes. It returns
  // the function that re-applies it, for new data.
  function keepDecorated(root, decorate) {
    const observer = new MutationObserver(() => apply());
    function apply() {
      observer.disconnect();
      decorate();
      observer.observe(root, { childList: true, subtree: true, attributes: true, attributeFilter: ['class'] });
    }
    apply();
    return apply;
  }

  return { el, fmt, getJSON, live, once, whoami, withToken, apdexCell, params, codeBadge, clsOf, logsOf, logLine, topCodes, spanCodes,
    setText, setAttr, setContent, keyed, rowCells, chart, seriesData, currentRange, rangeQuery, rangePicker, goRange, showProblem, errorMessage,
    keepDecorated, subscribe };
})();
