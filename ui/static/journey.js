// One customer journey: its steps across domains, live.
'use strict';
(() => {
  const { el, fmt, live, whoami, withToken, apdexCell, logsOf, topCodes, spanCodes } = Noctua;
  const journey = Noctua.params.get('journey') || '';
  const range = Noctua.params.get('range') || '15m';
  document.getElementById('range').textContent = 'last ' + range;
  document.getElementById('back').href = withToken('index.html?range=' + range);

  function render(v) {
    const j = v.journey;
    document.getElementById('title').textContent = j.name || j.id;
    document.getElementById('squad').textContent = (j.domains || []).join(' → ');
    document.getElementById('totals').replaceChildren(
      el('div', { class: 'tile wide h-' + j.health, 'data-health': j.health },
        el('div', { class: 'kpis' },
          kpi('req/s', fmt.rps(j.throughput)), kpi('errors', fmt.pct(j.error_pct)), kpi('bus / app / sys', fmt.classes(j)),
          kpi('p95', fmt.ms(j.p95_ms)), kpi('p99', fmt.ms(j.p99_ms)), kpi('Apdex [T]', fmt.apdex(j.apdex)),
          kpi('log errors', String(logsOf(j).errors)), kpi('timeouts', String(logsOf(j).timeouts)),
          kpi('retries', String(logsOf(j).retries))),
        el('div', { class: 'codes', 'data-metric': 'codes' }, topCodes(logsOf(j)))));
    document.querySelector('#steps tbody').replaceChildren(...v.steps.map((s) => el('tr', { class: 'h-' + s.health, 'data-api': s.api, 'data-service': s.service },
      el('td', {}, s.step === undefined ? '·' : String(s.step + 1)),
      el('td', {}, el('a', { href: withToken('domain.html?domain=' + encodeURIComponent(s.domain) + '&range=' + range) }, s.domain)),
      el('td', {}, s.service), el('td', {}, s.api || '(no API)'),
      el('td', { class: 'n' }, fmt.rps(s.throughput)), el('td', { class: 'n', 'data-metric': 'error-pct' }, fmt.pct(s.error_pct)),
      el('td', { class: 'codes', 'data-metric': 'span-codes' }, spanCodes(s)), el('td', {}, fmt.classes(s)),
      el('td', { class: 'n' }, fmt.ms(s.p95_ms)), el('td', { class: 'n' }, fmt.ms(s.p99_ms)), apdexCell(s.apdex),
      el('td', { class: 'codes', 'data-metric': 'codes' }, topCodes(logsOf(s))),
      el('td', { class: 'n', 'data-metric': 'timeouts' }, String(logsOf(s).timeouts)),
      el('td', { class: 'n', 'data-metric': 'retries' }, String(logsOf(s).retries)))));
  }
  function kpi(label, value) {
    return el('div', { class: 'kpi' }, el('div', { class: 'v' }, value), el('div', { class: 'l' }, label));
  }

  whoami();
  live({ view: 'journey', journey, range }, render);
})();
