// A squad's page: one domain's APIs and journeys (with this domain's
// requests and log lines only), live.
'use strict';
(() => {
  const { el, fmt, live, whoami, withToken, apdexCell, codeBadge, logsOf, logLine, topCodes, spanCodes } = Noctua;
  const domain = Noctua.params.get('domain') || '';
  const range = Noctua.params.get('range') || '15m';
  document.getElementById('range').textContent = 'last ' + range;
  document.getElementById('back').href = withToken('index.html?range=' + range);

  function render(v) {
    const d = v.domain;
    document.title = 'Noctua · ' + (d.name || d.id);
    document.getElementById('title').textContent = d.name || d.id;
    document.getElementById('squad').textContent = d.squad ? 'squad ' + d.squad : '';
    document.getElementById('totals').replaceChildren(
      el('div', { class: 'tile wide h-' + d.health, 'data-health': d.health },
        el('div', { class: 'kpis' },
          kpi('req/s', fmt.rps(d.throughput)), kpi('errors', fmt.pct(d.error_pct)),
          kpi('bus / app / sys', fmt.classes(d)), kpi('p50', fmt.ms(d.p50_ms)), kpi('p95', fmt.ms(d.p95_ms)),
          kpi('p99', fmt.ms(d.p99_ms)), kpi('Apdex [T]', fmt.apdex(d.apdex)), kpi('users', String(d.users)),
          kpi('log errors', String(logsOf(d).errors)), kpi('timeouts', String(logsOf(d).timeouts)),
          kpi('retries', String(logsOf(d).retries))),
        el('div', { class: 'codes', 'data-metric': 'span-codes' }, el('span', { class: 'dim' }, 'span error codes: '), spanCodes(d, 10))));
    codesPanel(logsOf(d));
    document.querySelector('#apis tbody').replaceChildren(...v.apis.map((a) => el('tr', { class: 'h-' + a.health, 'data-api': a.api, 'data-service': a.service },
      el('td', {}, a.service), el('td', {}, a.api || '(no API)'),
      el('td', { class: 'n' }, fmt.rps(a.throughput)), el('td', { class: 'n', 'data-metric': 'error-pct' }, fmt.pct(a.error_pct)),
      el('td', { class: 'codes', 'data-metric': 'span-codes' }, spanCodes(a)),
      el('td', {}, fmt.classes(a)),
      el('td', { class: 'n' }, fmt.ms(a.p50_ms)), el('td', { class: 'n' }, fmt.ms(a.p95_ms)), el('td', { class: 'n' }, fmt.ms(a.p99_ms)),
      apdexCell(a.apdex),
      el('td', { class: 'codes', 'data-metric': 'codes' }, topCodes(logsOf(a))),
      el('td', { class: 'n', 'data-metric': 'timeouts' }, String(logsOf(a).timeouts)),
      el('td', { class: 'n', 'data-metric': 'retries' }, String(logsOf(a).retries)),
      el('td', { class: 'n' }, String(a.users)))));
    document.querySelector('#journeys tbody').replaceChildren(...v.journeys.map((j) => el('tr', { class: 'h-' + j.health, 'data-journey': j.id },
      el('td', {}, el('a', { href: withToken('journey.html?journey=' + encodeURIComponent(j.id) + '&range=' + range) }, j.name || j.id)),
      el('td', { class: 'n' }, fmt.rps(j.throughput)), el('td', { class: 'n' }, fmt.pct(j.error_pct)),
      el('td', { class: 'n' }, fmt.ms(j.p99_ms)), apdexCell(j.apdex),
      logLine(logsOf(j), 'td'))));
  }
  function codesPanel(l) {
    const codes = l.codes || [];
    document.getElementById('codes').dataset.state = codes.length ? 'data' : 'empty';
    document.getElementById('codes-summary').replaceChildren(codes.length
      ? `${l.errors} error line(s) with a code in ${l.lines} log line(s) · ${l.distinct_codes} distinct code(s) · bus / app / sys ${fmt.classes(l)}`
      : el('span', { class: 'empty' }, 'no error logs in range'));
    document.getElementById('codes-list').replaceChildren(...codes.map((c) => el('span', { class: 'code-row' },
      codeBadge(c), ' ' + fmt.share(c.share) + ' ')));
  }
  function kpi(label, value) {
    return el('div', { class: 'kpi' }, el('div', { class: 'v' }, value), el('div', { class: 'l' }, label));
  }

  // The logs panel pages through /api/v1/logs; the first page's from/to pin
  // the range so that "more" continues where the previous page ended.
  const form = document.getElementById('log-filter');
  form.elements.code.value = Noctua.params.get('code') || '';
  form.elements.journey.value = Noctua.params.get('journey') || '';
  const more = document.getElementById('logs-more');
  const pageSize = /^\d{1,4}$/.test(Noctua.params.get('logs_limit') || '') ? Noctua.params.get('logs_limit') : '50';
  let page = null; // {query, from, to, next}
  function logQuery() {
    const q = new URLSearchParams({ domain, limit: pageSize });
    const f = form.elements;
    for (const k of ['journey', 'code', 'level', 'q']) if (f[k].value.trim()) q.set(k, f[k].value.trim());
    if (f.error.checked) q.set('error', 'true');
    return q;
  }
  async function loadLogs(append) {
    const status = document.getElementById('logs-status');
    const panel = document.getElementById('logs');
    const q = append ? new URLSearchParams(page.query) : logQuery();
    if (append) { q.set('from', page.from); q.set('to', page.to); q.set('cursor', page.next); } else q.set('range', range);
    more.disabled = true;
    try {
      const r = await Noctua.getJSON('/api/v1/logs?' + q.toString());
      page = { query: append ? page.query : logQuery().toString(), from: r.from, to: r.to, next: r.next };
      // The filter the rows answer, for whoever waits on a click.
      panel.dataset.journey = r.filter.journey || '';
      panel.dataset.code = new URLSearchParams(page.query).get('code') || '';
      const tb = document.querySelector('#logs-table tbody');
      const rows = r.logs.map(logRow);
      if (append) tb.append(...rows); else tb.replaceChildren(...rows);
      const n = tb.children.length;
      panel.dataset.state = n ? 'data' : 'empty';
      status.replaceChildren(n ? `${n} line(s) shown` + (r.next ? ' · more available' : ' · all shown')
        : el('span', { class: 'empty' }, (form.elements.error.checked ? 'no error logs in range' : 'no logs in range') + ' for this filter'));
      more.hidden = !r.next;
    } catch (e) {
      panel.dataset.state = e.status === 501 ? 'unavailable' : 'error';
      status.replaceChildren(el('span', { class: 'empty' }, e.status === 501 ? 'logs are not available from this store' : 'logs: ' + e.message));
      more.hidden = true;
    } finally {
      more.disabled = false;
    }
  }
  function logRow(l) {
    return el('tr', { class: 'lv-' + (l.level || 'unknown'), 'data-code': l.error_code, 'data-journey': l.journey },
      el('td', { class: 'ts' }, l.ts.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')),
      el('td', {}, l.level || '–'), el('td', {}, l.service), el('td', {}, l.api || '–'),
      el('td', {}, l.error_code ? codeBadge({ code: l.error_code, class: l.error_class }) : '–',
        l.timeout ? el('span', { class: 'flag' }, ' timeout') : null, l.retry ? el('span', { class: 'flag' }, ' retry') : null),
      el('td', { class: 'msg', title: l.labels }, l.message),
      el('td', { class: 'trace' }, l.trace_id || ''));
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); loadLogs(false); });
  // Clicking a code in the codes panel or the API table shows the domain's
  // lines with it; clicking a journey's top code, that journey's.
  function showLogs(code, journey) {
    form.elements.code.value = code;
    form.elements.journey.value = journey;
    loadLogs(false);
    document.getElementById('logs').scrollIntoView({ behavior: 'smooth', block: 'start' });
  }
  for (const id of ['codes-list', 'apis', 'journeys']) {
    document.getElementById(id).addEventListener('click', (ev) => {
      const c = ev.target.closest('.code[data-code]');
      if (!c) return;
      showLogs(c.dataset.code, id === 'journeys' ? c.closest('tr[data-journey]')?.dataset.journey || '' : '');
    });
  }
  more.addEventListener('click', () => loadLogs(true));

  whoami();
  live({ view: 'domain', domain, range }, render);
  loadLogs(false);
})();
