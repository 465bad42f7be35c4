// A squad's page: one domain's APIs and journeys, live.
'use strict';
(() => {
  const { el, fmt, live, whoami, withToken, apdexCell } = Noctua;
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
          kpi('p99', fmt.ms(d.p99_ms)), kpi('Apdex [T]', fmt.apdex(d.apdex)), kpi('users', String(d.users)))));
    document.querySelector('#apis tbody').replaceChildren(...v.apis.map((a) => el('tr', { class: 'h-' + a.health, 'data-api': a.api, 'data-service': a.service },
      el('td', {}, a.service), el('td', {}, a.api),
      el('td', { class: 'n' }, fmt.rps(a.throughput)), el('td', { class: 'n' }, fmt.pct(a.error_pct)),
      el('td', {}, fmt.classes(a)),
      el('td', { class: 'n' }, fmt.ms(a.p50_ms)), el('td', { class: 'n' }, fmt.ms(a.p95_ms)), el('td', { class: 'n' }, fmt.ms(a.p99_ms)),
      apdexCell(a.apdex), el('td', { class: 'n' }, String(a.users)))));
    document.querySelector('#journeys tbody').replaceChildren(...v.journeys.map((j) => el('tr', { class: 'h-' + j.health, 'data-journey': j.id },
      el('td', {}, el('a', { href: withToken('journey.html?journey=' + encodeURIComponent(j.id) + '&range=' + range) }, j.name || j.id)),
      el('td', { class: 'n' }, fmt.rps(j.throughput)), el('td', { class: 'n' }, fmt.pct(j.error_pct)),
      el('td', { class: 'n' }, fmt.ms(j.p99_ms)), apdexCell(j.apdex))));
  }
  function kpi(label, value) {
    return el('div', { class: 'kpi' }, el('div', { class: 'v' }, value), el('div', { class: 'l' }, label));
  }

  whoami();
  live({ view: 'domain', domain, range }, render);
})();
