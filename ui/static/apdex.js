// The Apdex view: every API in the caller's scope with its T, score, S/T/F
// counts, rating band, small-sample flag and trend over the range, worst
// first, live (one domain-view subscription per domain in scope).
'use strict';
(() => {
  const { el, fmt, live, once, whoami, setText, setAttr, keyed, rowCells, currentRange, rangeQuery, rangePicker } = Noctua;
  const range = currentRange('1h');
  const rq = rangeQuery(range);
  rangePicker(range);
  document.getElementById('back').href = 'index.html?' + rq;
  const views = new Map(); // domain -> its view
  const SVG = 'http://www.w3.org/2000/svg';

  function trend(svg, series, from, to) {
    const f = Date.parse(from), t = Date.parse(to);
    const pts = (series || []).filter((p) => p.apdex !== null && p.apdex !== undefined)
      .map((p) => `${(200 * (Date.parse(p.ts) - f) / (t - f)).toFixed(1)},${(28 - 26 * p.apdex).toFixed(1)}`).join(' ');
    setAttr(svg.firstChild, 'points', pts);
  }
  function render(id, v) {
    views.set(id, v);
    const rows = [];
    for (const view of views.values()) for (const a of view.apis) rows.push({ a, v: view, dom: view.domain }); // no traffic: nodata, last
    rows.sort((x, y) => (x.a.apdex.score ?? 2) - (y.a.apdex.score ?? 2) || (x.a.service + x.a.api).localeCompare(y.a.service + y.a.api));
    const bands = {};
    for (const r of rows) bands[r.a.apdex.rating] = (bands[r.a.apdex.rating] || 0) + 1;
    setText(document.getElementById('apdex-summary'), `${rows.length} API(s) in ${views.size} domain(s) · ` +
      ['excellent', 'good', 'fair', 'poor', 'unacceptable', 'nodata'].map((b) => `${b} ${bands[b] || 0}`).join(' · '));
    keyed(document.querySelector('#apdex tbody'), rows, (r) => r.dom.id + '\x00' + r.a.service + '\x00' + r.a.api,
      () => {
        const svg = document.createElementNS(SVG, 'svg');
        svg.setAttribute('viewBox', '0 0 200 30');
        svg.setAttribute('class', 'trend');
        svg.setAttribute('preserveAspectRatio', 'none');
        const line = document.createElementNS(SVG, 'polyline');
        line.setAttribute('fill', 'none');
        line.setAttribute('stroke', '#a371f7');
        line.setAttribute('stroke-width', '1.5');
        svg.append(line);
        return el('tr', {}, ...Array.from({ length: 10 }, () => el('td')), el('td', {}, svg));
      },
      (tr, { a, v, dom }) => {
        const ap = a.apdex;
        setAttr(tr, 'data-api', a.api);
        setAttr(tr, 'data-domain', dom.id);
        setAttr(tr, 'data-rating', ap.rating);
        setAttr(tr, 'class', 'h-' + a.health);
        rowCells(tr, [
          ['domain', dom.name || dom.id], ['service', a.service], ['api', a.api || '(no API)'],
          ['t', fmt.ms(ap.t_ms), 'n'],
          ['score', fmt.apdex(ap), 'n apdex r-' + ap.rating],
          ['rating', ap.rating + (ap.small_sample ? ' ⚠ small sample' : ''), 'band-cell'],
          ['satisfied', String(ap.satisfied), 'n'], ['tolerating', String(ap.tolerating), 'n'], ['frustrated', String(ap.frustrated), 'n'],
          ['count', String(a.count), 'n']]);
        setAttr(tr.children[5], 'class', 'band r-' + ap.rating);
        trend(tr.children[10].firstChild, a.series, v.from, v.to);
      });
  }

  whoami();
  Noctua.getJSON('/api/v1/domains').then((r) => {
    const ids = r.domains.map((d) => d.id);
    if (range.fixed) {
      once(ids.map((d) => [d, `/api/v1/domains/${encodeURIComponent(d)}?from=${encodeURIComponent(range.from)}&to=${encodeURIComponent(range.to)}&step=${range.step}`]), render);
    } else {
      live(ids.map((d) => ({ id: d, view: 'domain', domain: d, range: range.range, step: range.step })), render);
    }
  }).catch((e) => Noctua.showProblem(Noctua.errorMessage(e.status, e.message)));
})();
