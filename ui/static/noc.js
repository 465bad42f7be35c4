// The central NOC page: a tile per domain and a row per journey, live.
'use strict';
(() => {
  const { el, fmt, live, whoami, withToken, apdexCell, codeBadge, clsOf, logsOf, logLine, spanCodes } = Noctua;
  const range = Noctua.params.get('range') || '15m';
  document.getElementById('range').textContent = 'last ' + range;

  function tile(d) {
    const href = withToken('domain.html?domain=' + encodeURIComponent(d.id) + '&range=' + range);
    return el('div', { class: 'tile h-' + d.health, 'data-domain': d.id, 'data-health': d.health },
      el('a', { href, class: 'tile-link' },
        el('div', { class: 'tile-head' }, el('span', { class: 'name' }, d.name || d.id), el('span', { class: 'squad' }, d.squad || '')),
        el('div', { class: 'kpis' },
          kpi('req/s', fmt.rps(d.throughput), 'rps'),
          kpi('errors', fmt.pct(d.error_pct), 'errors'),
          kpi('p99', fmt.ms(d.p99_ms), 'p99'),
          kpi('Apdex [T]', fmt.apdex(d.apdex), 'apdex')),
        el('div', { class: 'classes' }, 'bus / app / sys: ' + fmt.classes(d)),
        el('div', { class: 'codes spanline', 'data-metric': 'span-codes' }, el('span', { class: 'dim' }, 'span codes: '), spanCodes(d, 3)),
        logLine(logsOf(d)),
        spark(d.series || [])));
  }
  // codesPanel lists the NOC-wide top error codes with their domains.
  function codesPanel(ov) {
    const l = logsOf(ov);
    const panel = document.getElementById('codes');
    const codes = l.codes || [];
    panel.dataset.state = codes.length ? 'data' : 'empty';
    document.getElementById('codes-summary').replaceChildren(codes.length
      ? `${l.errors} error line(s) with a code in ${l.lines} log line(s) · ${l.distinct_codes} distinct code(s) · ` +
        `bus / app / sys ${fmt.classes(l)} · timeouts ${l.timeouts} · retries ${l.retries}`
      : el('span', { class: 'empty' }, l.lines
        ? `no error logs in range (${l.lines} log line(s) without an error code · timeouts ${l.timeouts} · retries ${l.retries})`
        : 'no error logs in range'));
    document.querySelector('#codes-table tbody').replaceChildren(...codes.map((c) => el('tr', { 'data-code': c.code, 'data-count': String(c.count) },
      el('td', {}, codeBadge(c)),
      el('td', { class: 'cls-text-' + clsOf(c.class) }, c.class || '–'),
      el('td', { class: 'n' }, String(c.count)),
      el('td', { class: 'n' }, fmt.share(c.share)),
      el('td', {}, (c.domains || []).flatMap((d, i) => [i ? ', ' : '',
        el('a', { href: withToken('domain.html?domain=' + encodeURIComponent(d) + '&range=' + encodeURIComponent(range) + '&code=' + encodeURIComponent(c.code)) }, d)])))));
    document.getElementById('codes-table').hidden = !codes.length;
  }
  function kpi(label, value, metric) {
    return el('div', { class: 'kpi' }, el('div', { class: 'v', 'data-metric': metric }, value), el('div', { class: 'l' }, label));
  }
  // spark draws request counts per step as a row of bars.
  function spark(series) {
    const max = Math.max(1, ...series.map((p) => p.count));
    return el('div', { class: 'spark' }, series.slice(-60).map((p) =>
      el('span', { class: p.error_pct >= 5 ? 'bad' : '', title: `${p.ts}: ${p.count} req, ${fmt.pct(p.error_pct)}`, 'data-h': Math.round(100 * p.count / max) })));
  }

  function render(ov) {
    const tiles = document.getElementById('tiles');
    tiles.replaceChildren(...ov.domains.map(tile));
    for (const b of tiles.querySelectorAll('.spark span')) b.style.height = b.dataset.h + '%';
    codesPanel(ov);
    const tb = document.querySelector('#journeys tbody');
    tb.replaceChildren(...ov.journeys.map((j) => el('tr', { class: 'h-' + j.health, 'data-journey': j.id },
      el('td', {}, el('a', { href: withToken('journey.html?journey=' + encodeURIComponent(j.id) + '&range=' + range) }, j.name || j.id)),
      el('td', {}, j.squad || ''),
      el('td', {}, (j.domains || []).join(', ')),
      el('td', { class: 'n' }, fmt.rps(j.throughput)),
      el('td', { class: 'n' }, fmt.pct(j.error_pct)),
      el('td', {}, fmt.classes(j)),
      el('td', { class: 'n' }, fmt.ms(j.p95_ms)),
      el('td', { class: 'n' }, fmt.ms(j.p99_ms)),
      apdexCell(j.apdex),
      logLine(logsOf(j), 'td'))));
  }

  whoami();
  live({ view: 'overview', range, step: Noctua.params.get('step') || '30s' }, render);
})();
