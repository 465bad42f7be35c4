// Kafka-lag page: every consumer group in scope, worst first (crit, warn,
// then the most lag in seconds), live over the websocket "kafka" view (or
// read once by REST for a fixed range), with its status, lag in messages
// and seconds, trend, time to drain, coverage and domain, a lag-seconds
// chart over the range, and, for the group clicked (or ?group=), its
// topics and partitions. The helpers are NoctuaKafka so that the NOC page
// (noc-kafka.js) and the squad page (kafka-panel.js) share them.
'use strict';

const NoctuaKafka = (() => {
  const { el } = Noctua;
  // health is the row's own (the server's, when it sends one) or one
  // derived from its status: STALL, STOP, REWIND and ERR are red, WARN (or
  // a lag over the group's threshold) amber, OK green, warming up unknown.
  function health(g) {
    if (g.health) return g.health;
    let h = { STALL: 'crit', STOP: 'crit', REWIND: 'crit', ERR: 'crit', WARN: 'warn', OK: 'ok' }[g.status] || 'nodata';
    if ((g.lag_warn_seconds ?? g.threshold_seconds) > 0 && g.lag_seconds > (g.lag_warn_seconds ?? g.threshold_seconds) && (h === 'ok' || h === 'nodata')) h = 'warn';
    return h;
  }
  const rank = (h) => ({ crit: 0, warn: 1, nodata: 2, ok: 3 }[h] ?? 3);
  // worstFirst orders groups: crit, warn, unknown, ok; then by lag seconds,
  // lag in messages and name.
  function worstFirst(groups) {
    return groups.slice().sort((a, b) => rank(health(a)) - rank(health(b)) || (b.lag_seconds || 0) - (a.lag_seconds || 0) ||
      (b.lag_offsets || 0) - (a.lag_offsets || 0) || (a.cluster + a.group).localeCompare(b.cluster + b.group));
  }
  // dur writes seconds for people: "45 s", "3 m 20 s", "2 h 5 m", "3 d 4 h".
  function dur(s) {
    if (s === null || s === undefined || isNaN(s)) return '–';
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + ' s';
    if (s < 3600) return `${Math.floor(s / 60)} m ${s % 60} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} m`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  }
  const msgs = (v) => (v === null || v === undefined ? '–' : Math.round(v).toLocaleString('en-US'));
  // drain is the time to drain the backlog at current rates: "caught up"
  // without lag, "not draining" when the server says it never will (null),
  // '–' from a server that does not compute it.
  function drain(g) {
    if (!g.lag_offsets) return 'caught up';
    if (!('drain_seconds' in g)) return '–';
    return g.drain_seconds === null ? 'not draining' : dur(g.drain_seconds);
  }
  const trend = (g) => ({ growing: '↗ growing', shrinking: '↘ shrinking', steady: '→ steady' }[g.trend] || '–');
  function coverage(g) {
    const total = Math.round(g.partitions || 0);
    return `${Math.round((g.coverage || 0) * total)}/${total}`;
  }
  const key = (g) => g.cluster + '/' + g.group;
  const href = (g, rq) => 'kafka.html?domain=' + encodeURIComponent(g.domain) + '&group=' + encodeURIComponent(g.group) +
    '&cluster=' + encodeURIComponent(g.cluster) + (rq ? '&' + rq : '');

  // spark draws points' values as an SVG polyline (0..max), with a dashed
  // line at the threshold when there is one.
  function spark(values, threshold) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('viewBox', '0 0 120 24');
    svg.setAttribute('preserveAspectRatio', 'none');
    const vs = values.filter((v) => v !== null && v !== undefined && !isNaN(v));
    if (vs.length) {
      const hi = Math.max(...vs, threshold || 0, 1e-9);
      const pl = document.createElementNS(ns, 'polyline');
      pl.setAttribute('points', vs.map((v, i) => `${vs.length === 1 ? 60 : (i * 120) / (vs.length - 1)},${(24 - (22 * v) / hi - 1).toFixed(2)}`).join(' '));
      svg.append(pl);
      if (threshold > 0) {
        const l = document.createElementNS(ns, 'line');
        l.setAttribute('class', 'warn');
        const y = 24 - (22 * threshold) / hi - 1;
        l.setAttribute('x1', '0'); l.setAttribute('x2', '120'); l.setAttribute('y1', y); l.setAttribute('y2', y);
        svg.append(l);
      }
      const t = document.createElementNS(ns, 'title');
      t.textContent = `lag over the range: max ${dur(Math.max(...vs))}, now ${dur(vs[vs.length - 1])}`;
      svg.append(t);
    }
    svg.dataset.points = String(vs.length);
    return svg;
  }

  // statusCell is a group's status with its health colour.
  // The server's reason (why the group is not OK) is the badge's tooltip.
  const statusCell = (g) => el('span', { class: 'kstatus h-' + health(g), 'data-status': g.status, title: g.reason || '' }, g.status);

  return { health, rank, worstFirst, dur, msgs, drain, trend, coverage, key, href, spark, statusCell };
})();

(() => {
  const table = document.getElementById('kafka-groups');
  if (!table) return; // embedded elsewhere
  const { el, setText, setAttr, setContent, keyed, currentRange, rangeQuery, rangePicker } = Noctua;
  const K = NoctuaKafka;
  const range = currentRange('1h');
  const rq = rangeQuery(range);
  rangePicker(range);
  const domain = Noctua.params.get('domain') || '';
  let selected = Noctua.params.get('group') ? { group: Noctua.params.get('group'), cluster: Noctua.params.get('cluster') || '' } : null;
  if (domain) {
    setText(document.getElementById('title'), 'Kafka lag · ' + domain);
    document.getElementById('back').href = 'domain.html?domain=' + encodeURIComponent(domain) + '&' + rq;
  }
  for (const a of document.querySelectorAll('nav.pages a[data-page]')) a.href = a.dataset.page + '?' + rq;

  // history keeps each group's lag seconds as the live updates bring them,
  // for a chart when the server sends no series (an older server, or the
  // chart's first minutes).
  const seen = new Map();
  // pointsOf returns a group's lag over the range: [{t (ms), v (s)}], the
  // server's series when it has two steps or more, else what this page saw
  // (a range's first step is one point: no line to draw).
  function pointsOf(g) {
    const h = sawPoll(g);
    if (Array.isArray(g.series) && g.series.length > 1) return g.series.map((p) => ({ t: Date.parse(p.t), v: p.lag_seconds }));
    return h;
  }
  function sawPoll(g) {
    let h = seen.get(K.key(g));
    if (!h) { h = []; seen.set(K.key(g), h); }
    const t = Date.parse(g.at);
    if (!isNaN(t) && (!h.length || h[h.length - 1].t < t)) h.push({ t, v: g.lag_seconds });
    if (h.length > 600) h.shift();
    return h;
  }

  // One uPlot chart of lag seconds per group (the worst MAX_CHARTS), in
  // the table's order, updated in place.
  const MAX_CHARTS = 12;
  const charts = new Map();
  function drawCharts(groups, pts) {
    const box = document.getElementById('kafka-charts');
    if (!box || typeof uPlot === 'undefined') return;
    const shown = groups.slice(0, MAX_CHARTS);
    keyed(box, shown, K.key, (g) => el('div', { class: 'chartbox kchart', 'data-group': g.group },
      el('h3', {}, el('a', {}), ' ', el('span', { class: 'hint' })), el('div', { class: 'kplot' })),
    (div, g) => {
      setAttr(div, 'class', 'chartbox kchart h-' + K.health(g));
      const [a, , hint] = div.firstChild.childNodes;
      setText(a, g.group);
      setAttr(a, 'href', K.href(g, rq));
      setText(hint, `${g.domain} · ${g.status} · now ${K.dur(g.lag_seconds)}`);
      let c = charts.get(K.key(g));
      if (!c) {
        c = Noctua.chart(div.lastChild, { height: 110, legend: false, series: [{ label: 'lag', color: '#f0883e', fill: '#f0883e22', fmt: K.dur }],
          yfmt: (v) => (v < 60 ? +v.toFixed(v < 10 ? 1 : 0) + ' s' : K.dur(v).replace(/ (\d+ [smh])$/, '')) });
        charts.set(K.key(g), c);
      }
      const ps = pts.get(K.key(g)) || [];
      c.update(ps.map((p) => p.t / 1000), ps.map((p) => p.v));
    });
    for (const k of [...charts.keys()]) if (!shown.some((g) => K.key(g) === k)) charts.delete(k);
  }

  function render(_, view) {
    const groups = K.worstFirst(view.groups || []);
    const tbody = table.querySelector('tbody');
    table.dataset.state = groups.length ? 'ready' : 'empty';
    document.getElementById('kafka-empty').hidden = groups.length > 0;
    const counts = {};
    for (const g of groups) counts[K.health(g)] = (counts[K.health(g)] || 0) + 1;
    setText(document.getElementById('kafka-summary'), `${groups.length} group(s)` +
      ['crit', 'warn', 'nodata', 'ok'].filter((h) => counts[h]).map((h) => ` · ${counts[h]} ${{ crit: 'critical', warn: 'warning', nodata: 'unknown', ok: 'ok' }[h]}`).join(''));
    const pts = new Map();
    keyed(tbody, groups, K.key, (g) => {
      const tr = el('tr', {});
      tr.addEventListener('click', (ev) => {
        if (ev.target.closest('a')) ev.preventDefault();
        select({ group: tr.dataset.group, cluster: tr.dataset.cluster });
      });
      return tr;
    }, (tr, g) => {
      const h = K.health(g);
      setAttr(tr, 'class', 'h-' + h + (selected && selected.group === g.group && (!selected.cluster || selected.cluster === g.cluster) ? ' selected' : ''));
      setAttr(tr, 'data-group', g.group);
      setAttr(tr, 'data-cluster', g.cluster);
      setAttr(tr, 'data-domain', g.domain);
      setAttr(tr, 'data-health', h);
      setAttr(tr, 'data-status', g.status);
      setAttr(tr, 'data-lag-offsets', String(g.lag_offsets));
      setAttr(tr, 'data-lag-seconds', String(g.lag_seconds));
      const ps = pointsOf(g);
      pts.set(K.key(g), ps);
      const vals = ps.map((p) => p.v);
      Noctua.rowCells(tr, [
        ['group', { sig: g.group + '|' + g.domain + '|' + g.cluster, build: () => el('a', { href: K.href(g, rq) }, g.group) }],
        ['cluster', g.cluster, 'dim'],
        ['status', { sig: g.status + h + (g.reason || ''), build: () => K.statusCell(g) }],
        ['lag-offsets', K.msgs(g.lag_offsets), 'n'],
        ['lag-seconds', K.dur(g.lag_seconds), 'n'],
        ['chart', { sig: vals.join(',') + '|' + ((g.lag_warn_seconds ?? g.threshold_seconds) || 0), build: () => K.spark(vals, (g.lag_warn_seconds ?? g.threshold_seconds)) }],
        ['max-lag', K.msgs(g.max_lag_offsets), 'n'],
        ['trend', K.trend(g)],
        ['drain', K.drain(g), 'n'],
        ['coverage', K.coverage(g), 'n' + (g.coverage < 1 ? ' partial' : '')],
        ['domain', { sig: g.domain, build: () => el('a', { href: 'domain.html?domain=' + encodeURIComponent(g.domain) + '&' + rq }, g.domain) }],
        ['journey', g.journey || '–', 'dim'],
        ['at', g.at && !g.at.startsWith('0001') ? Noctua.fmt.ago(g.at) + ' ago' : '–', 'dim'],
      ]);
    });
    drawCharts(groups, pts);
    if (selected && Date.now() - lastDetail > 5000) detail();
  }

  // The clicked group's topics and partitions (REST with group=).
  let lastDetail = 0;
  function select(s) {
    selected = s;
    const p = new URLSearchParams(location.search);
    p.set('group', s.group);
    if (s.cluster) p.set('cluster', s.cluster); else p.delete('cluster');
    window.history.replaceState(null, '', location.pathname + '?' + p);
    for (const tr of table.querySelectorAll('tbody tr')) tr.classList.toggle('selected', tr.dataset.group === s.group && (!s.cluster || tr.dataset.cluster === s.cluster));
    detail();
  }
  function unselect() {
    selected = null;
    document.getElementById('kafka-detail').hidden = true;
    const p = new URLSearchParams(location.search);
    p.delete('group'); p.delete('cluster');
    window.history.replaceState(null, '', location.pathname + '?' + p);
    for (const tr of table.querySelectorAll('tbody tr.selected')) tr.classList.remove('selected');
  }
  async function detail() {
    lastDetail = Date.now();
    const box = document.getElementById('kafka-detail');
    const s = selected;
    const qs = new URLSearchParams(range.fixed ? { from: range.from, to: range.to } : { range: range.range });
    qs.set('group', s.group);
    if (s.cluster) qs.set('cluster', s.cluster);
    if (domain) qs.set('domain', domain);
    box.hidden = false;
    try {
      const v = await Noctua.getJSON('/api/v1/kafka?' + qs);
      if (selected !== s) return;
      const g = (v.groups || [])[0];
      box.dataset.group = s.group;
      box.dataset.state = g ? 'ready' : 'empty';
      setContent(box, JSON.stringify([s, g && g.status, g && g.lag_offsets, v.topics, v.partitions]), () => [
        el('h2', {}, 'Group ', el('span', { class: 'gname' }, s.group), ' ', el('span', { class: 'hint' },
          g ? `${g.cluster} · ${g.domain} · ${g.status} · ${g.reason || `${K.msgs(g.lag_offsets)} message(s) behind · ${K.dur(g.lag_seconds)}`}` : 'no data in this range'),
        ' ', el('button', { type: 'button', class: 'close', onclick: unselect }, 'close')),
        el('div', { class: 'kafka-detail-tables' },
          el('table', { id: 'kafka-topics', class: 'grid' },
            el('thead', {}, el('tr', {}, el('th', {}, 'Topic'), el('th', { class: 'n' }, 'lag (messages)'), el('th', { class: 'n' }, 'partitions with a commit'))),
            el('tbody', {}, (v.topics || []).length ? v.topics.map((t) => el('tr', { 'data-topic': t.topic, 'data-lag-offsets': String(t.lag_offsets) },
              el('td', {}, t.topic), el('td', { class: 'n' }, K.msgs(t.lag_offsets)), el('td', { class: 'n' }, String(t.partitions_known))))
              : el('tr', {}, el('td', { class: 'empty', colSpan: 3 }, 'no committed partition')))),
          el('table', { id: 'kafka-partitions', class: 'grid' },
            el('thead', {}, el('tr', {}, el('th', {}, 'Topic'), el('th', { class: 'n' }, 'partition'), el('th', { class: 'n' }, 'lag (messages)'))),
            el('tbody', {}, (v.partitions || []).map((p) => el('tr', { 'data-topic': p.topic, 'data-partition': String(p.partition), 'data-lag-offsets': String(p.lag_offsets) },
              el('td', {}, p.topic), el('td', { class: 'n' }, String(p.partition)), el('td', { class: 'n' }, K.msgs(p.lag_offsets)))))))]);
    } catch (e) {
      box.dataset.state = 'error';
      setContent(box, 'error:' + e.message, () => el('div', { class: 'err' }, 'group detail: ' + e.message));
    }
  }

  Noctua.whoami();
  if (selected) detail();
  const rest = new URLSearchParams(range.fixed ? { from: range.from, to: range.to, step: range.step } : {});
  if (domain) rest.set('domain', domain);
  if (range.fixed) Noctua.once([['kafka', '/api/v1/kafka?' + rest]], render);
  else Noctua.live([{ id: 'kafka', view: 'kafka', domain: domain || undefined, range: range.range, step: range.step }], render);
})();
