// Squad page add-on: a Kafka panel listing the domain's consumer groups,
// worst first, with their status and lag in messages and seconds, each
// linking to its detail on the Kafka-lag page. Refreshed every 5 s from
// /api/v1/kafka?domain=. To wire it into domain.html, load kafka.css,
// kafka.js and then this file after domain.js:
//   <link rel="stylesheet" href="kafka.css">
//   <script src="kafka.js" defer></script><script src="kafka-panel.js" defer></script>
'use strict';
(() => {
  const main = document.querySelector('main');
  const domain = Noctua.params.get('domain') || '';
  if (!main || !domain || typeof NoctuaKafka === 'undefined') return;
  const { el, setAttr, keyed, rowCells } = Noctua;
  const K = NoctuaKafka;
  const range = Noctua.currentRange('1h');
  const rq = Noctua.rangeQuery(range);
  const all = 'kafka.html?domain=' + encodeURIComponent(domain) + '&' + rq;
  for (const a of document.querySelectorAll('nav.pages a[href="kafka.html"]')) a.href = all;
  const head = ['Group', 'Cluster', 'Status', 'lag (messages)', 'lag (time)', 'trend', 'time to drain', 'coverage'];
  const num = new Set(['lag (messages)', 'lag (time)', 'time to drain', 'coverage']);
  main.append(el('section', { id: 'kafka' },
    el('h2', {}, 'Kafka consumer groups ', el('span', { class: 'hint' }, 'this domain\'s groups, worst first · ', el('a', { href: all }, 'Kafka-lag page'))),
    el('table', { id: 'kafka-panel', class: 'grid', 'data-state': 'loading' },
      el('thead', {}, el('tr', {}, head.map((h) => el('th', { class: num.has(h) ? 'n' : '' }, h)))), el('tbody'))));
  async function tick() {
    const table = document.getElementById('kafka-panel');
    try {
      const qs = new URLSearchParams(range.fixed ? { from: range.from, to: range.to } : { range: range.range });
      qs.set('domain', domain);
      const v = await Noctua.getJSON('/api/v1/kafka?' + qs);
      const groups = K.worstFirst(v.groups || []);
      const tbody = table.querySelector('tbody');
      if (!groups.length) {
        table.dataset.state = 'empty';
        tbody.replaceChildren(el('tr', {}, el('td', { class: 'empty', colSpan: head.length }, 'no consumer group of this domain in this range')));
        return;
      }
      if (table.dataset.state !== 'ready') tbody.replaceChildren();
      table.dataset.state = 'ready';
      keyed(tbody, groups, K.key, () => el('tr', {}), (tr, g) => {
        const h = K.health(g);
        setAttr(tr, 'class', 'h-' + h);
        setAttr(tr, 'data-group', g.group);
        setAttr(tr, 'data-health', h);
        setAttr(tr, 'data-status', g.status);
        setAttr(tr, 'data-lag-offsets', String(g.lag_offsets));
        rowCells(tr, [
          ['group', { sig: K.href(g, rq), build: () => el('a', { href: K.href(g, rq) }, g.group) }],
          ['cluster', g.cluster, 'dim'],
          ['status', { sig: g.status + h, build: () => K.statusCell(g) }],
          ['lag-offsets', K.msgs(g.lag_offsets), 'n'],
          ['lag-seconds', K.dur(g.lag_seconds), 'n'],
          ['trend', K.trend(g)],
          ['drain', K.drain(g), 'n'],
          ['coverage', K.coverage(g), 'n' + (g.coverage < 1 ? ' partial' : '')],
        ]);
      });
    } catch (e) {
      table.dataset.state = 'error: ' + e.message;
    }
  }
  tick();
  setInterval(tick, 5000);
})();
