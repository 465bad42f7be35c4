// One customer journey: its steps across domains, live, patched in place.
'use strict';
(() => {
  const { el, fmt, live, once, whoami, logsOf, topCodes, spanCodes, setText, setContent, setAttr, keyed, rowCells, chart, seriesData, currentRange, rangeQuery, rangePicker } = Noctua;
  const journey = Noctua.params.get('journey') || '';
  const range = currentRange('1h');
  const rq = rangeQuery(range);
  rangePicker(range);
  document.getElementById('back').href = 'index.html?' + rq;

  function kpi(label, value) {
    return el('div', { class: 'kpi' }, el('div', { class: 'v' }, value), el('div', { class: 'l' }, label));
  }
  // The journey's charts: req/s, error %, p99 and Apdex over the range.
  let charts = null;
  function drawCharts(v) {
    const stepS = (v.step_ms || 60000) / 1000;
    const defs = [
      ['Throughput (req/s)', [{ label: 'req/s', color: '#58a6ff', fill: '#58a6ff22', fmt: fmt.rps }], (p) => p.count / stepS],
      ['Errors %', [{ label: 'errors %', color: '#f85149', fill: '#f8514922', fmt: fmt.pct }], (p) => p.error_pct],
      ['Latency p99', [{ label: 'p99', color: '#d29922', fmt: fmt.ms }], (p) => p.p99_ms],
      ['Apdex', [{ label: 'Apdex', color: '#a371f7', fmt: (x) => x.toFixed(2) }], (p) => (p.apdex === null ? null : p.apdex)],
    ];
    if (!charts) {
      const box = document.getElementById('j-charts');
      charts = defs.map(([title, series], i) => {
        const c = el('div', { class: 'chartbox' });
        box.append(c);
        return chart(c, { title, height: 140, series, yfmt: i === 2 ? (x) => fmt.ms(x).replace(' ', '') : undefined });
      });
    }
    defs.forEach(([, , f], i) => charts[i].update(...seriesData(v.series || [], v.from, v.to, v.step_ms, [f])));
  }
  function render(_, v) {
    const j = v.journey;
    drawCharts(v);
    setText(document.getElementById('title'), j.name || j.id);
    setText(document.getElementById('squad'), (j.domains || []).join(' → '));
    setContent(document.getElementById('totals'), JSON.stringify([j.health, j.health_cause, j.throughput, j.error_pct, j.errors_by_class, j.p95_ms, j.p99_ms, j.apdex, logsOf(j)]), () =>
      el('div', { class: 'tile wide h-' + j.health, 'data-health': j.health },
        el('div', { class: 'kpis' },
          kpi('req/s', fmt.rps(j.throughput)), kpi('errors', fmt.pct(j.error_pct)), kpi('bus / app / sys', fmt.classes(j)),
          kpi('p95', fmt.ms(j.p95_ms)), kpi('p99', fmt.ms(j.p99_ms)), kpi('Apdex [T]', fmt.apdex(j.apdex)),
          kpi('log errors', String(logsOf(j).errors)), kpi('timeouts', String(logsOf(j).timeouts)),
          kpi('retries', String(logsOf(j).retries))),
        j.health_cause ? el('div', { class: 'cause' }, 'health now: ' + j.health + ' — ' + j.health_cause) : null,
        el('div', { class: 'codes', 'data-metric': 'codes' }, topCodes(logsOf(j)))));
    keyed(document.querySelector('#steps tbody'), v.steps, (s) => [s.domain, s.service, s.api].join('\x00'), () => el('tr', {}),
      (tr, s) => {
        setAttr(tr, 'class', 'h-' + s.health);
        setAttr(tr, 'data-api', s.api);
        setAttr(tr, 'data-service', s.service);
        const l = logsOf(s);
        rowCells(tr, [
          ['step', s.step === undefined || s.step === null ? '·' : String(s.step + 1)],
          ['domain', { sig: s.domain, build: () => el('a', { href: 'domain.html?domain=' + encodeURIComponent(s.domain) + '&journey=' + encodeURIComponent(journey) + '&' + rq }, s.domain) }],
          ['service', s.service], ['api', s.api || '(no API)'],
          ['rps', fmt.rps(s.throughput), 'n'], ['error-pct', fmt.pct(s.error_pct), 'n'],
          ['span-codes', { sig: JSON.stringify(s.error_codes), build: () => spanCodes(s) }, 'codes'], ['classes', fmt.classes(s)],
          ['p95', fmt.ms(s.p95_ms), 'n'], ['p99', fmt.ms(s.p99_ms), 'n'],
          ['apdex', fmt.apdex(s.apdex), 'n apdex r-' + (s.apdex.rating || 'nodata')],
          ['codes', { sig: JSON.stringify(l.codes), build: () => topCodes(l) }, 'codes'],
          ['timeouts', String(l.timeouts), 'n'], ['retries', String(l.retries), 'n']]);
      });
  }

  whoami();
  if (range.fixed) once([['main', `/api/v1/journeys/${encodeURIComponent(journey)}?from=${encodeURIComponent(range.from)}&to=${encodeURIComponent(range.to)}&step=${range.step}`]], render);
  else live([{ id: 'main', view: 'journey', journey, range: range.range, step: range.step }], render);
})();
