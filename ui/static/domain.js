// A squad's page (domain.html?domain=payments&range=1h, stable and
// shareable): the domain's totals and charts over the range, its APIs (table
// and per-API charts of req/s, latency p50/p95/p99, error % and Apdex
// [T]), the journeys through it, its log error codes and, collapsed, its
// log lines with a link to the full log search. A click on a chart's point
// shows that step's raw requests and log lines. ?journey= highlights a
// journey (from the NOC matrix). Live, patched in place.
'use strict';
(() => {
  const { el, fmt, live, once, whoami, apdexCell, codeBadge, logsOf, logLine, topCodes, spanCodes,
    setText, setAttr, setContent, keyed, rowCells, chart, seriesData, currentRange, rangeQuery, rangePicker } = Noctua;
  const domain = Noctua.params.get('domain') || '';
  const focusJourney = Noctua.params.get('journey') || '';
  const range = currentRange('1h');
  const rq = rangeQuery(range);
  rangePicker(range);
  document.getElementById('back').href = 'index.html?' + rq;
  document.getElementById('apdex-link').href = 'apdex.html?' + rq;
  document.getElementById('logs-link').href = 'logs.html?domain=' + encodeURIComponent(domain) + '&' + rq;
  if (focusJourney) {
    const f = document.getElementById('focus');
    f.hidden = false;
    f.replaceChildren('Showing journey ', el('strong', {}, focusJourney), ' highlighted · its log lines below · ',
      el('a', { href: 'domain.html?domain=' + encodeURIComponent(domain) + '&' + rq }, 'clear'));
  }
  let stepMs = 60000;
  let markers = []; // the start of the domain's burning journeys

  function kpi(label, value) {
    return el('div', { class: 'kpi' }, el('div', { class: 'v' }, value), el('div', { class: 'l' }, label));
  }
  function totals(d) {
    const box = document.getElementById('totals');
    setContent(box, JSON.stringify([d.health, d.health_cause, d.throughput, d.error_pct, d.errors_by_class, d.p50_ms, d.p95_ms, d.p99_ms, d.apdex, d.users, logsOf(d), d.error_codes]), () =>
      el('div', { class: 'tile wide h-' + d.health, 'data-health': d.health },
        el('div', { class: 'kpis' },
          kpi('req/s', fmt.rps(d.throughput)), kpi('errors', fmt.pct(d.error_pct)),
          kpi('bus / app / sys', fmt.classes(d)), kpi('p50', fmt.ms(d.p50_ms)), kpi('p95', fmt.ms(d.p95_ms)),
          kpi('p99', fmt.ms(d.p99_ms)), kpi('Apdex [T]', fmt.apdex(d.apdex)), kpi('users', String(d.users)),
          kpi('log errors', String(logsOf(d).errors)), kpi('timeouts', String(logsOf(d).timeouts)),
          kpi('retries', String(logsOf(d).retries))),
        d.health_cause ? el('div', { class: 'cause' }, 'health now: ' + d.health + ' — ' + d.health_cause) : null,
        el('div', { class: 'codes', 'data-metric': 'span-codes' }, el('span', { class: 'dim' }, 'span error codes: '), spanCodes(d, 10))));
  }

  // The domain's charts and one block of charts per API.
  const stepOf = () => stepMs / 1000;
  const FIELDS = {
    rps: [{ label: 'req/s', color: '#58a6ff', fill: '#58a6ff22', fmt: fmt.rps, f: (p) => p.count / stepOf() }],
    lat: [{ label: 'p50', color: '#2ea043', fmt: fmt.ms, f: (p) => p.p50_ms }, { label: 'p95', color: '#d29922', fmt: fmt.ms, f: (p) => p.p95_ms },
      { label: 'p99', color: '#f85149', fmt: fmt.ms, f: (p) => p.p99_ms }],
    err: [{ label: 'all', color: '#e6edf3', fmt: fmt.pct, f: (p) => p.error_pct },
      ...[['system', '#f85149'], ['application', '#d29922'], ['business', '#58a6ff']].map(([c, color]) => ({
        label: c, color, fmt: fmt.pct, f: (p) => (p.count ? 100 * ((p.errors_by_class || {})[c] || 0) / p.count : null) }))],
    apdex: [{ label: 'Apdex', color: '#a371f7', fmt: (v) => v.toFixed(2), f: (p) => (p.apdex === null ? null : p.apdex) }],
  };
  const TITLES = { rps: 'Throughput (req/s)', lat: 'Latency p50 / p95 / p99', err: 'Errors % by class', apdex: 'Apdex' };
  function chartSet(box, height, key, legend) {
    const out = {};
    for (const k of Object.keys(FIELDS)) {
      const c = el('div', { class: 'chartbox', 'data-chart': k });
      box.append(c);
      out[k] = chart(c, { title: TITLES[k], height, legend, series: FIELDS[k], yfmt: k === 'lat' ? (v) => fmt.ms(v).replace(' ', '') : undefined,
        markers: () => markers,
        onClick: (ts) => drill(key, ts) });
    }
    return out;
  }
  function fill(set, series, v) {
    for (const k of Object.keys(FIELDS)) {
      const cols = seriesData(series || [], v.from, v.to, v.step_ms, FIELDS[k].map((x) => x.f));
      set[k].update(...cols);
    }
  }
  let domCharts = null;
  const apiCharts = new Map();
  function charts(v) {
    if (!domCharts) domCharts = chartSet(document.getElementById('dom-charts'), 150, {}, true);
    fill(domCharts, v.domain.series, v);
    const withTraffic = v.apis.filter((a) => a.count > 0 || (a.series || []).length);
    keyed(document.getElementById('api-charts'), withTraffic, (a) => a.service + '\x00' + a.api,
      (a) => el('div', { class: 'api-block', 'data-api': a.api, 'data-service': a.service },
        el('h3', {}, el('span', {}, a.service + ' · ' + (a.api || '(no API)')), el('span', { class: 'hint' })),
        el('div', { class: 'api-charts' })),
      (blk, a) => {
        setAttr(blk, 'class', 'api-block h-' + a.health);
        setText(blk.firstChild.lastChild, `${fmt.rps(a.throughput)} req/s · ${fmt.pct(a.error_pct)} · p99 ${fmt.ms(a.p99_ms)} · Apdex ${fmt.apdex(a.apdex)}` + (a.health_cause ? ' · ' + a.health_cause : ''));
        const k = a.service + '\x00' + a.api;
        let set = apiCharts.get(k);
        if (!set) { set = chartSet(blk.lastChild, 110, { service: a.service, api: a.api }, false); apiCharts.set(k, set); }
        fill(set, a.series, v);
      });
  }

  // drill shows the raw requests (failed first) and error log lines of the
  // step starting at ts.
  async function drill(key, ts) {
    const box = document.getElementById('drill');
    box.hidden = false;
    const from = new Date(ts).toISOString(), to = new Date(ts + stepMs).toISOString();
    const q = new URLSearchParams({ domain, from, to, limit: '20' });
    if (key.service) q.set('service', key.service);
    if (key.api) q.set('api', key.api);
    box.replaceChildren(el('div', { class: 'summary' }, 'loading the requests of ' + from.slice(11, 19) + '…'));
    try {
      const [failed, logs] = await Promise.all([
        Noctua.getJSON('/api/v1/requests?' + q + '&error=true'),
        Noctua.getJSON('/api/v1/logs?' + q + '&error=true').catch(() => ({ logs: [] })),
      ]);
      const reqs = failed.requests || failed.rows || failed || [];
      box.replaceChildren(
        el('h3', {}, `${key.service ? key.service + ' · ' + key.api : 'whole domain'} · ${from.slice(11, 19)}–${to.slice(11, 19)} UTC `,
          el('button', { type: 'button', onclick: () => { box.hidden = true; } }, 'close')),
        el('div', { class: 'summary' }, `${reqs.length} failed request(s) · ${(logs.logs || []).length} error log line(s) (at most 20 each)`),
        el('table', { class: 'grid' }, el('thead', {}, el('tr', {}, ['time', 'service', 'API', 'status', 'code', 'duration', 'trace'].map((h) => el('th', {}, h)))),
          el('tbody', {}, (Array.isArray(reqs) ? reqs : []).map((r) => el('tr', {},
            el('td', { class: 'ts' }, String(r.ts || '').slice(11, 23)), el('td', {}, r.service), el('td', {}, r.api),
            el('td', {}, String(r.status_code || '')), el('td', {}, r.error_code ? codeBadge({ code: r.error_code, class: r.error_class }) : '–'),
            el('td', { class: 'n' }, fmt.ms(r.duration_ms)), el('td', { class: 'trace' }, r.trace_id || ''))))),
        el('table', { class: 'grid logs' }, el('tbody', {}, (logs.logs || []).map((l) => el('tr', {},
          el('td', { class: 'ts' }, l.ts.slice(11, 23)), el('td', {}, l.level || ''), el('td', {}, l.error_code ? codeBadge({ code: l.error_code, class: l.error_class }) : '–'),
          el('td', { class: 'msg' }, l.message))))));
    } catch (e) {
      box.replaceChildren(el('div', { class: 'empty' }, 'drill-down: ' + e.message));
    }
  }

  function apisTable(v) {
    keyed(document.querySelector('#apis tbody'), v.apis, (a) => a.service + '\x00' + a.api, () => el('tr', {}),
      (tr, a) => {
        setAttr(tr, 'class', 'h-' + a.health);
        setAttr(tr, 'data-api', a.api);
        setAttr(tr, 'data-service', a.service);
        setAttr(tr, 'title', a.health_cause || null);
        const l = logsOf(a);
        rowCells(tr, [
          ['service', a.service], ['api', a.api || '(no API)'],
          ['rps', fmt.rps(a.throughput), 'n'], ['error-pct', fmt.pct(a.error_pct), 'n'],
          ['span-codes', { sig: JSON.stringify(a.error_codes), build: () => spanCodes(a) }, 'codes'],
          ['classes', fmt.classes(a)],
          ['p50', fmt.ms(a.p50_ms), 'n'], ['p95', fmt.ms(a.p95_ms), 'n'], ['p99', fmt.ms(a.p99_ms), 'n'],
          ['apdex', fmt.apdex(a.apdex), 'n apdex r-' + (a.apdex.rating || 'nodata')],
          ['codes', { sig: JSON.stringify(l.codes), build: () => topCodes(l) }, 'codes'],
          ['timeouts', String(l.timeouts), 'n'], ['retries', String(l.retries), 'n'], ['users', String(a.users), 'n']]);
      });
  }
  function journeysTable(v) {
    keyed(document.querySelector('#journeys tbody'), v.journeys, (j) => j.id, () => el('tr', {}),
      (tr, j) => {
        setAttr(tr, 'class', 'h-' + j.health + (j.id === focusJourney ? ' focus' : ''));
        setAttr(tr, 'data-journey', j.id);
        const l = logsOf(j);
        const top = (l.codes || [])[0];
        rowCells(tr, [
          ['journey', { sig: j.id + '|' + j.name, build: () => el('a', { href: 'journey.html?journey=' + encodeURIComponent(j.id) + '&' + rq }, j.name || j.id) }],
          ['rps', fmt.rps(j.throughput), 'n'], ['errors', fmt.pct(j.error_pct), 'n'], ['p99', fmt.ms(j.p99_ms), 'n'],
          ['apdex', fmt.apdex(j.apdex), 'n apdex r-' + (j.apdex.rating || 'nodata')],
          ['top-code', { sig: JSON.stringify(l), build: () => [...logLine(l, 'span').childNodes] }, 'logline']]);
        setAttr(tr.lastChild, 'data-code', top ? top.code : '');
      });
  }
  function codesPanel(l) {
    const codes = l.codes || [];
    document.getElementById('codes').dataset.state = codes.length ? 'data' : 'empty';
    setText(document.getElementById('codes-summary'), codes.length
      ? `${l.errors} error line(s) with a code in ${l.lines} log line(s) · ${l.distinct_codes} distinct code(s) · bus / app / sys ${fmt.classes(l)}`
      : 'no error logs in range');
    setContent(document.getElementById('codes-list'), JSON.stringify(codes), () => codes.map((c) => el('span', { class: 'code-row' },
      codeBadge(c), ' ' + fmt.share(c.share) + ' ')));
    const top = codes[0];
    setText(document.getElementById('logs-summary'), `${l.errors} error line(s) in range` + (top ? ` · top code ${top.code} (${fmt.share(top.share)})` : '') +
      ` · timeouts ${l.timeouts} · retries ${l.retries}`);
  }

  function render(_, v) {
    const d = v.domain;
    stepMs = v.step_ms || stepMs;
    markers = (v.burning || []).map((b) => Date.parse(b.since));
    document.title = 'Noctua · ' + (d.name || d.id);
    setText(document.getElementById('title'), d.name || d.id);
    setText(document.getElementById('squad'), d.squad ? 'squad ' + d.squad : '');
    document.body.dataset.updated = String(Date.now());
    totals(d);
    charts(v);
    apisTable(v);
    journeysTable(v);
    codesPanel(logsOf(d));
  }

  // The log panel: collapsed to its summary unless a code or journey was
  // asked for; clicking a code (codes panel, API table, a journey's top
  // code) opens it filtered to that code (and journey).
  const logs = LogPanel.init({ domain, ...(range.fixed ? { from: range.from, to: range.to } : { range: range.range }) },
    /^\d{1,4}$/.test(Noctua.params.get('logs_limit') || '') ? Noctua.params.get('logs_limit') : '50');
  if (Noctua.params.get('code') || focusJourney) document.getElementById('logs-details').open = true;
  for (const id of ['codes-list', 'apis', 'journeys']) {
    document.getElementById(id).addEventListener('click', (ev) => {
      const c = ev.target.closest('.code[data-code]');
      if (!c) return;
      logs.show(c.dataset.code, id === 'journeys' ? c.closest('tr[data-journey]')?.dataset.journey || '' : '');
    });
  }

  whoami();
  if (range.fixed) once([['main', `/api/v1/domains/${encodeURIComponent(domain)}?from=${encodeURIComponent(range.from)}&to=${encodeURIComponent(range.to)}&step=${range.step}`]], render);
  else live([{ id: 'main', view: 'domain', domain, range: range.range, step: range.step }], render);
  logs.load(false);
})();
