// Shared code of the Noctua pages: the token, formatting, safe DOM building
// and the live websocket subscription with reconnect and freshness.
'use strict';

const Noctua = (() => {
  const params = new URLSearchParams(location.search);
  // The token comes from ?token= once, then from this tab's storage.
  const token = params.get('token') || sessionStorage.getItem('noctua.token') || '';
  if (params.get('token')) sessionStorage.setItem('noctua.token', token);

  function withToken(url) {
    if (!token) return url;
    return url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
  }

  // el builds an element; children are nodes or text (never parsed as HTML).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
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
  };

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

  // live subscribes to one view and calls onData(data) with the snapshot and
  // every update. It reconnects with backoff and keeps #live showing how
  // fresh the numbers are and whether a sequence gap was seen.
  function live(sub, onData) {
    const status = document.getElementById('live');
    let lastMsg = 0, lastSeq = 0, gaps = 0, backoff = 500;
    function show() {
      const age = lastMsg ? (Date.now() - lastMsg) / 1000 : Infinity;
      const fresh = age < 5;
      status.className = 'live ' + (fresh ? 'fresh' : 'stale');
      status.textContent = !lastMsg ? 'connecting…'
        : fresh ? `live · ${age.toFixed(0)}s ago` + (gaps ? ` · ${gaps} gap(s)` : '')
        : `STALE · last update ${age.toFixed(0)}s ago`;
    }
    setInterval(show, 1000);
    function connect() {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      const ws = new WebSocket(withToken(`${proto}//${location.host}/ws`));
      ws.onopen = () => { backoff = 500; lastSeq = 0; ws.send(JSON.stringify({ type: 'subscribe', id: 'main', ...sub })); };
      ws.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        if (m.seq) {
          if (lastSeq && m.seq !== lastSeq + 1) gaps++;
          lastSeq = m.seq;
          document.body.dataset.seq = String(m.seq);
        }
        lastMsg = Date.now();
        if (m.type === 'error') { status.textContent = 'error: ' + m.error; return; }
        if ((m.type === 'snapshot' || m.type === 'update') && m.data) onData(m.data);
        show();
      };
      ws.onclose = () => { setTimeout(connect, backoff); backoff = Math.min(backoff * 2, 15000); };
    }
    connect();
  }

  async function whoami() {
    try {
      const w = await getJSON('/api/v1/whoami');
      document.getElementById('who').textContent = w.role === 'squad' ? `squad: ${w.domain}` : (w.role || 'noc').toUpperCase();
      return w;
    } catch (e) {
      document.getElementById('who').textContent = 'not signed in (add ?token=…)';
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

  return { el, fmt, getJSON, live, whoami, withToken, apdexCell, params, codeBadge, clsOf, logsOf, logLine, topCodes, spanCodes };
})();
