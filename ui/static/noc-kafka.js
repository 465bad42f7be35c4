// NOC page add-on: the consumer groups behind on their Kafka topics. A
// "Kafka lag" panel lists the worst groups (at most five, OK ones left
// out), and each domain tile (.tile[data-domain]) gets a kafka line
// ("kafka 2 groups · 1 STALL") and turns amber or red with its groups'
// worst health (a STALL, STOP, REWIND or ERR group makes it red) even if
// its requests are fine. Live over the page's websocket (the "kafka" view; by REST every 5 s for a fixed range) and
// re-applied whenever the page redraws its tiles, as noc-infra.js does. To
// wire it into index.html, load kafka.css, kafka.js and this file after
// noc.js:
//   <link rel="stylesheet" href="kafka.css">
//   <script src="kafka.js" defer></script><script src="noc-kafka.js" defer></script>
'use strict';
(() => {
  const tiles = document.getElementById('tiles');
  const main = document.querySelector('main');
  if (!tiles || !main || typeof NoctuaKafka === 'undefined') return;
  const { el, setText, setAttr, keyed } = Noctua;
  const K = NoctuaKafka;
  const range = Noctua.currentRange('1h');
  const rq = Noctua.rangeQuery(range);
  for (const a of document.querySelectorAll('nav.pages a[href="kafka.html"]')) a.href = 'kafka.html?' + rq;
  const MAX = 5;
  const panel = el('section', { id: 'kafka-worst-box' },
    el('h2', {}, 'Kafka lag ', el('span', { class: 'hint' }, 'consumer groups not OK, worst first · ', el('a', { href: 'kafka.html?' + rq }, 'all groups'))),
    el('ol', { id: 'kafka-worst', class: 'kafka-worst', 'data-state': 'loading' }),
    el('div', { id: 'kafka-worst-more', class: 'hint' }));
  panel.hidden = true;
  const top = main.querySelector('.wall-top');
  if (top) top.after(panel); else main.prepend(panel);
  let byDomain = {};

  function worst(groups) {
    const bad = K.worstFirst(groups).filter((g) => g.status !== 'OK' && K.health(g) !== 'ok');
    const list = document.getElementById('kafka-worst');
    const items = bad.slice(0, MAX);
    list.dataset.state = groups.length ? (items.length ? 'data' : 'calm') : 'empty';
    panel.hidden = !groups.length; // no Kafka configured, or nothing in range: no room taken on the wall
    setText(document.getElementById('kafka-worst-more'), !groups.length ? 'no consumer group in this range'
      : !bad.length ? `all ${groups.length} group(s) OK` : bad.length > MAX ? `and ${bad.length - MAX} more` : '');
    keyed(list, items, K.key, () => el('li', {}, el('a', {}), ' ', el('span', { class: 'k-status' }), el('div', { class: 'k-line' })),
      (li, g) => {
        const h = K.health(g);
        setAttr(li, 'class', 'h-' + h);
        setAttr(li, 'data-group', g.group);
        setAttr(li, 'data-domain', g.domain);
        setAttr(li, 'data-health', h);
        setAttr(li, 'data-status', g.status);
        const [a, , st, line] = li.childNodes;
        setText(a, g.group);
        setAttr(a, 'href', K.href(g, rq));
        setText(st, g.status);
        setAttr(st, 'class', 'k-status kstatus h-' + h);
        setText(line, `${g.domain} · ${K.msgs(g.lag_offsets)} msg · ${K.dur(g.lag_seconds)} behind` + (g.trend ? ' · ' + g.trend : '') +
          (g.lag_offsets && 'drain_seconds' in g ? ' · drain ' + K.drain(g) : ''));
      });
  }

  function decorate() {
    for (const t of tiles.querySelectorAll('.tile[data-domain]')) {
      const d = byDomain[t.dataset.domain];
      const old = t.querySelector('[data-metric="kafka"]');
      if (!d) { if (old) old.remove(); delete t.dataset.kafkaHealth; continue; }
      const bad = Object.entries(d.statuses).filter(([s]) => s !== 'OK').sort((a, b) => b[1] - a[1]);
      const text = `kafka ${d.groups} group${d.groups === 1 ? '' : 's'} · ` + (bad.length ? bad.map(([s, n]) => `${n} ${s}`).join(' · ') : 'all OK');
      let line = old;
      if (!line) {
        line = el('div', { class: 'kafka-line', 'data-metric': 'kafka' });
        (t.querySelector('a.tile-link') || t).append(line);
      } else if (line.parentNode !== (t.querySelector('a.tile-link') || t) || line.nextSibling) {
        (t.querySelector('a.tile-link') || t).append(line); // after a rebuilt tile's content
      }
      setText(line, text);
      setAttr(line, 'data-health', d.health);
      t.dataset.kafkaHealth = d.health;
      // Kafka may make a tile worse, never better.
      if (d.health !== 'nodata' && K.rank(d.health) < K.rank(t.dataset.health)) {
        t.classList.remove('h-' + t.dataset.health);
        t.classList.add('h-' + d.health);
        t.dataset.health = d.health;
      }
    }
  }

  function show(v) {
    const groups = v.groups || [];
    const m = {};
    for (const g of groups) {
      const d = m[g.domain] = m[g.domain] || { groups: 0, statuses: {}, health: 'ok' };
      d.groups++;
      d.statuses[g.status] = (d.statuses[g.status] || 0) + 1;
      const h = K.health(g);
      if (K.rank(h) < K.rank(d.health)) d.health = h;
    }
    byDomain = m;
    worst(groups);
    apply();
  }
  async function tick() {
    try {
      const qs = new URLSearchParams(range.fixed ? { from: range.from, to: range.to } : { range: range.range });
      show(await Noctua.getJSON('/api/v1/kafka?' + qs));
    } catch (e) { /* the tiles and the panel keep their last lines */ }
  }
  // The page patches its tiles in place every second: re-apply after each change.
  const apply = Noctua.keepDecorated(tiles, decorate);
  // Live on the page's websocket (the "kafka" view); by REST every 5 s
  // for a fixed range.
  if (range.fixed || !Noctua.subscribe({ id: 'noc-kafka', view: 'kafka', range: range.range }, show)) {
    tick();
    setInterval(tick, 5000);
  }
})();
