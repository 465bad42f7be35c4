// The central NOC page. The wall view answers "what is burning and whose is
// it" from across a room: a matrix of journeys × domains coloured by health
// now, the burning-now list (squad, journey, since when, top code) and
// small multiples of req/s, error % and p99 per domain over the range. The
// dense mode (?dense=1) adds today's detail for a desk screen: a tile per
// domain, the error codes of the logs and the journeys table. Updates patch
// the page in place.
'use strict';
(() => {
  const { el, fmt, live, once, whoami, apdexCell, codeBadge, clsOf, logsOf, logLine, spanCodes,
    setText, setAttr, setContent, keyed, rowCells, chart, seriesData, currentRange, rangeQuery, rangePicker } = Noctua;
  const range = currentRange('1h');
  const rq = rangeQuery(range);
  const dense = Noctua.params.get('dense') === '1';
  rangePicker(range);
  document.getElementById('dense').hidden = !dense;
  document.body.classList.toggle('dense', dense);
  const denseLink = document.getElementById('dense-link'), wallLink = document.getElementById('wall-link');
  denseLink.href = 'index.html?dense=1&' + rq;
  wallLink.href = 'index.html?' + rq;
  denseLink.classList.toggle('on', dense);
  wallLink.classList.toggle('on', !dense);
  for (const a of document.querySelectorAll('nav.pages a[href="apdex.html"]')) a.href = 'apdex.html?' + rq;

  const squadHref = (domain, extra) => 'domain.html?domain=' + encodeURIComponent(domain) + '&' + rq + (extra || '');
  let markers = [];

  // The matrix: one row per journey (server order: worst first), one
  // column per domain (configuration order, stable on a wall).
  function matrix(ov) {
    const doms = ov.domains.slice().sort((a, b) => order(a.id) - order(b.id));
    const head = document.querySelector('#matrix thead tr');
    keyed(head, [{ id: '', name: 'Journey' }, { id: ' squad', name: 'Squad' }, ...doms], (d) => d.id,
      (d) => el('th', {}, d.id && d.id !== ' squad' ? el('a', { href: squadHref(d.id) }) : ''),
      (th, d) => {
        if (!d.id || d.id === ' squad') { setText(th, d.name); return; }
        const a = th.firstChild;
        setText(a, d.name || d.id);
        setAttr(a, 'href', squadHref(d.id));
        setAttr(th, 'class', 'dom h-' + d.health);
        setAttr(th, 'data-domain', d.id);
      });
    keyed(document.querySelector('#matrix tbody'), ov.journeys, (j) => j.id,
      (j) => el('tr', { 'data-journey': j.id }),
      (tr, j) => {
        setAttr(tr, 'class', 'h-' + j.health);
        setAttr(tr, 'data-health', j.health);
        const cells = [['journey', j.name || j.id, 'jname'], ['squad', j.squad || '–', 'squad']];
        rowCells(tr, cells);
        doms.forEach((d, i) => {
          let td = tr.children[i + 2];
          if (!td) { td = el('td', {}, el('a', {})); tr.append(td); }
          const h = (j.domain_health || {})[d.id];
          const step = (j.domains || []).includes(d.id);
          setAttr(td, 'class', 'cell ' + (h ? 'h-' + h : step ? 'h-nodata' : 'none'));
          setAttr(td, 'data-domain', d.id);
          setAttr(td, 'data-health', h || (step ? 'nodata' : ''));
          const a = td.firstChild;
          if (h || step) {
            setAttr(a, 'href', squadHref(d.id, '&journey=' + encodeURIComponent(j.id)));
            setAttr(a, 'title', `${j.name || j.id} in ${d.name || d.id}: ${h || 'no requests'}`);
            setText(a, h === 'crit' ? '●' : h === 'warn' ? '▲' : h === 'ok' ? '✓' : '·');
          } else {
            setAttr(a, 'href', null);
            setText(a, '');
          }
        });
        while (tr.children.length > doms.length + 2) tr.lastChild.remove();
      });
  }
  const domOrder = new Map();
  function order(id) { return domOrder.has(id) ? domOrder.get(id) : 1e6; }

  const MAX_BURNING = 5; // the wall's list fits the screen; the matrix shows the rest
  function burning(ov) {
    const list = document.getElementById('burning');
    const all = ov.burning || [];
    const items = all.slice(0, MAX_BURNING);
    const more = document.getElementById('burning-more');
    more.hidden = all.length <= MAX_BURNING;
    setText(more, `and ${all.length - MAX_BURNING} more: see the matrix`);
    list.dataset.state = items.length ? 'data' : 'empty';
    document.getElementById('burning-empty').hidden = items.length > 0;
    markers = items.map((b) => Date.parse(b.since));
    keyed(list, items, (b) => b.journey,
      () => el('li', {},
        el('div', { class: 'b-head' }, el('a', { class: 'b-name' }), el('span', { class: 'b-squad' })),
        el('div', { class: 'b-line' }, el('span', { class: 'b-since' }), el('span', { class: 'b-code' })),
        el('div', { class: 'b-cause' })),
      (li, b) => {
        setAttr(li, 'class', 'h-' + b.health);
        setAttr(li, 'data-journey', b.journey);
        setAttr(li, 'data-health', b.health);
        const [head, line, cause] = li.children;
        const dom = (b.domains || [])[0];
        setText(head.children[0], b.name || b.journey);
        setAttr(head.children[0], 'href', dom ? squadHref(dom, '&journey=' + encodeURIComponent(b.journey)) : 'journey.html?journey=' + encodeURIComponent(b.journey));
        setText(head.children[1], b.squad || 'no squad');
        setText(line.children[0], `since ${fmt.clock(b.since)} (${fmt.ago(b.since)})`);
        setContent(line.children[1], b.top_code + '|' + b.top_code_class, () => (b.top_code ? ['top code ', codeBadge({ code: b.top_code, class: b.top_code_class })] : ''));
        setText(cause, `${b.cause || b.health} · ${fmt.pct(b.error_pct)} errors · ${b.impact.toFixed(1)} failed/s`);
      });
  }

  // Small multiples: per domain, req/s, error % and p99 over the range,
  // with the burning journeys' start as markers.
  const multiples = new Map();
  function smallMultiples(ov) {
    const box = document.getElementById('multiples');
    const doms = ov.domains.slice().sort((a, b) => order(a.id) - order(b.id));
    const stepS = ov.step_ms / 1000 || 60;
    keyed(box, doms, (d) => d.id,
      (d) => {
        const panel = el('div', { class: 'mult', 'data-domain': d.id },
          el('div', { class: 'mult-head' }, el('a', { href: squadHref(d.id) }), el('span', { class: 'mult-now' })),
          el('div', { class: 'mchart', 'data-metric': 'rps' }), el('div', { class: 'mchart', 'data-metric': 'errors' }), el('div', { class: 'mchart', 'data-metric': 'p99' }));
        return panel;
      },
      (panel, d) => {
        setAttr(panel, 'class', 'mult h-' + d.health);
        const head = panel.firstChild;
        setText(head.firstChild, d.name || d.id);
        setText(head.children[1], `${fmt.rps(d.throughput)} req/s · ${fmt.pct(d.error_pct)} · p99 ${fmt.ms(d.p99_ms)}`);
        let c = multiples.get(d.id);
        if (!c) {
          const [, r, e, p] = panel.children;
          const h = 80;
          c = {
            rps: chart(r, { height: h, legend: false, series: [{ label: 'req/s', color: '#58a6ff', fill: '#58a6ff22', fmt: fmt.rps }], markers: () => markers }),
            err: chart(e, { height: h, legend: false, series: [{ label: 'errors %', color: '#f85149', fill: '#f8514922', fmt: fmt.pct }], markers: () => markers }),
            p99: chart(p, { height: h, legend: false, series: [{ label: 'p99', color: '#d29922', fmt: fmt.ms }], yfmt: (v) => fmt.ms(v).replace(' ', ''), markers: () => markers }),
          };
          multiples.set(d.id, c);
        }
        const [xs, rps, err, p99] = seriesData(d.series || [], ov.from, ov.to, ov.step_ms,
          [(p) => p.count / stepS, (p) => p.error_pct, (p) => p.p99_ms]);
        c.rps.update(xs, rps);
        c.err.update(xs, err);
        c.p99.update(xs, p99);
      });
  }

  function tiles(ov) {
    keyed(document.getElementById('tiles'), ov.domains, (d) => d.id,
      (d) => el('div', { 'data-domain': d.id }, el('a', { class: 'tile-link' })),
      (t, d) => {
        setAttr(t, 'class', 'tile h-' + d.health);
        setAttr(t, 'data-health', d.health);
        const a = t.firstChild;
        setAttr(a, 'href', squadHref(d.id));
        setContent(a, JSON.stringify([d.name, d.squad, d.health, d.throughput, d.error_pct, d.p99_ms, d.apdex, d.errors_by_class, d.error_codes, d.logs]), () => [
          el('div', { class: 'tile-head' }, el('span', { class: 'name' }, d.name || d.id), el('span', { class: 'squad' }, d.squad || '')),
          el('div', { class: 'kpis' },
            kpi('req/s', fmt.rps(d.throughput), 'rps'), kpi('errors', fmt.pct(d.error_pct), 'errors'),
            kpi('p99', fmt.ms(d.p99_ms), 'p99'), kpi('Apdex [T]', fmt.apdex(d.apdex), 'apdex')),
          el('div', { class: 'classes' }, 'bus / app / sys: ' + fmt.classes(d)),
          el('div', { class: 'codes spanline', 'data-metric': 'span-codes' }, el('span', { class: 'dim' }, 'span codes: '), spanCodes(d, 3)),
          logLine(logsOf(d)),
          d.health_cause ? el('div', { class: 'cause' }, d.health_cause) : null]);
      });
  }
  function kpi(label, value, metric) {
    return el('div', { class: 'kpi' }, el('div', { class: 'v', 'data-metric': metric }, value), el('div', { class: 'l' }, label));
  }
  // codesPanel lists the NOC-wide top error codes with their domains.
  function codesPanel(ov) {
    const l = logsOf(ov);
    const panel = document.getElementById('codes');
    const codes = l.codes || [];
    panel.dataset.state = codes.length ? 'data' : 'empty';
    setText(document.getElementById('codes-summary'), codes.length
      ? `${l.errors} error line(s) with a code in ${l.lines} log line(s) · ${l.distinct_codes} distinct code(s) · ` +
        `bus / app / sys ${fmt.classes(l)} · timeouts ${l.timeouts} · retries ${l.retries}`
      : (l.lines ? `no error logs in range (${l.lines} log line(s) without an error code · timeouts ${l.timeouts} · retries ${l.retries})` : 'no error logs in range'));
    keyed(document.querySelector('#codes-table tbody'), codes, (c) => c.code + '\x00' + c.class, () => el('tr', {}),
      (tr, c) => {
        setAttr(tr, 'data-code', c.code);
        setAttr(tr, 'data-count', c.count);
        rowCells(tr, [
          ['code', { sig: JSON.stringify(c), build: () => codeBadge(c) }],
          ['class', c.class || '–', 'cls-text-' + clsOf(c.class)],
          ['count', String(c.count), 'n'],
          ['share', fmt.share(c.share), 'n'],
          ['domains', { sig: (c.domains || []).join(','), build: () => (c.domains || []).flatMap((d, i) => [i ? ', ' : '',
            el('a', { href: squadHref(d, '&code=' + encodeURIComponent(c.code)) }, d)]) }]]);
      });
    document.getElementById('codes-table').hidden = !codes.length;
  }
  function journeysTable(ov) {
    keyed(document.querySelector('#journeys tbody'), ov.journeys, (j) => j.id, () => el('tr', {}),
      (tr, j) => {
        setAttr(tr, 'class', 'h-' + j.health);
        setAttr(tr, 'data-journey', j.id);
        rowCells(tr, [
          ['journey', { sig: j.id + j.name, build: () => el('a', { href: 'journey.html?journey=' + encodeURIComponent(j.id) + '&' + rq }, j.name || j.id) }],
          ['squad', j.squad || ''], ['domains', (j.domains || []).join(', ')],
          ['rps', fmt.rps(j.throughput), 'n'], ['errors', fmt.pct(j.error_pct), 'n'], ['classes', fmt.classes(j)],
          ['p95', fmt.ms(j.p95_ms), 'n'], ['p99', fmt.ms(j.p99_ms), 'n'],
          ['apdex', { sig: JSON.stringify(j.apdex), build: () => apdexCell(j.apdex).firstChild }, 'n apdex r-' + (j.apdex.rating || 'nodata')],
          ['top-code', { sig: JSON.stringify(logsOf(j)), build: () => [...logLine(logsOf(j), 'span').childNodes] }]]);
        const last = tr.lastChild;
        setAttr(last, 'class', 'logline');
        const top = (logsOf(j).codes || [])[0];
        setAttr(last, 'data-code', top ? top.code : '');
      });
  }

  function render(_, ov) {
    if (!domOrder.size) ov.domains.forEach((d, i) => domOrder.set(d.id, i));
    if (!render.ordered) { // configuration order comes from /domains; until then, first-seen order
      render.ordered = true;
      Noctua.getJSON('/api/v1/domains').then((r) => { domOrder.clear(); (r.domains || r).forEach((d, i) => domOrder.set(d.id, i)); }).catch(() => {});
    }
    document.body.dataset.updated = String(Date.now());
    document.body.dataset.span = String(Date.parse(ov.to) - Date.parse(ov.from)); // what the data covers, for tests
    matrix(ov);
    burning(ov);
    smallMultiples(ov);
    if (dense) { tiles(ov); codesPanel(ov); journeysTable(ov); }
  }

  whoami();
  if (range.fixed) once([['main', `/api/v1/overview?from=${encodeURIComponent(range.from)}&to=${encodeURIComponent(range.to)}&step=${range.step}`]], render);
  else live([{ id: 'main', view: 'overview', range: range.range, step: range.step }], render);
})();
