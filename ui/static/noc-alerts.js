// NOC page add-on: alerting. An "Alerts" panel lists the firing alerts,
// worst first (page before ticket, the fastest-burning rule first), each
// with its severity, squad and summary and a link to the squad's page; a
// domain tile (.tile[data-domain]) turns red, with an "alert" line, while
// a page-severity alert of that domain fires (a journey's alert counts for
// every domain it crosses). Live over the page's websocket (the "alerts"
// view; by REST every 5 s for a fixed range) and re-applied whenever the
// page redraws its tiles, as noc-kafka.js does.
// To wire it into index.html, load this file after noc.js:
//   <script src="noc-alerts.js" defer></script>
'use strict';
(() => {
  const tiles = document.getElementById('tiles');
  const main = document.querySelector('main');
  if (!tiles || !main) return;
  const { el, setText, setAttr } = Noctua;
  const panel = el('section', { id: 'alerts-box' },
    el('h2', {}, 'Alerts ', el('span', { class: 'hint' }, 'firing now, worst first · SLO burn rates, Kafka, probes, hosts')),
    el('ol', { id: 'alerts', class: 'alerts', 'data-state': 'loading' }),
    el('div', { id: 'alerts-more', class: 'hint' }));
  const top = main.querySelector('.wall-top');
  if (top) top.before(panel); else main.prepend(panel);
  let pages = {}; // domain -> firing page alerts
  let last = '';

  function list(firing) {
    const ol = document.getElementById('alerts');
    ol.dataset.state = firing.length ? 'data' : 'calm';
    setText(document.getElementById('alerts-more'), firing.length ? '' : 'no alert firing');
    const sig = JSON.stringify(firing.map((a) => [a.key, a.summary, a.starts_at]));
    if (sig === last) return;
    last = sig;
    ol.replaceChildren(...firing.map((a) => el('li', { class: 'alert h-' + (a.severity === 'page' ? 'crit' : 'warn'),
      'data-key': a.key, 'data-severity': a.severity, 'data-domain': a.domain, 'data-domains': a.domains.join(' ') },
      el('span', { class: 'sev' }, a.severity), ' ',
      el('a', { href: 'domain.html?domain=' + encodeURIComponent(a.domain) }, a.squad || a.domain), ' ',
      el('span', { class: 'summary' }, a.summary), ' ',
      el('span', { class: 'hint' }, 'since ' + new Date(a.starts_at).toLocaleTimeString()))));
  }

  function decorate() {
    for (const t of tiles.querySelectorAll('.tile[data-domain]')) {
      const ps = pages[t.dataset.domain] || [];
      let line = t.querySelector('[data-metric="alerts"]');
      if (!ps.length) {
        if (line) line.remove();
        delete t.dataset.alert;
        continue;
      }
      const host = t.querySelector('a.tile-link') || t;
      if (!line) {
        line = el('div', { class: 'alert-line', 'data-metric': 'alerts' });
        host.append(line);
      } else if (line.parentNode !== host || line.nextSibling) {
        host.append(line);
      }
      setText(line, `⚠ ${ps.length} page${ps.length === 1 ? '' : 's'}: ${ps[0].summary}`);
      t.dataset.alert = 'page';
      // A firing page turns the tile red whatever its requests say.
      if (t.dataset.health !== 'crit') {
        t.classList.remove('h-' + t.dataset.health);
        t.classList.add('h-crit');
        t.dataset.health = 'crit';
      }
    }
  }

  function show(v) {
    const firing = v.alerts || [];
    const m = {};
    for (const a of firing) {
      if (a.severity !== 'page') continue;
      for (const d of a.domains) (m[d] = m[d] || []).push(a);
    }
    pages = m;
    list(firing);
    setAttr(panel, 'data-firing', String(firing.length));
    apply();
  }
  async function tick() {
    try {
      show(await Noctua.getJSON('/api/v1/alerts?state=firing'));
    } catch (e) { /* the panel and the tiles keep their last state */ }
  }
  // The page patches its tiles in place every second: re-apply after each change.
  const apply = Noctua.keepDecorated(tiles, decorate);
  // Live on the page's websocket (the "alerts" view); by REST every 5 s
  // when the page has none (a fixed range).
  if (!Noctua.subscribe({ id: 'noc-alerts', view: 'alerts', params: { state: 'firing' } }, show)) {
    tick();
    setInterval(tick, 5000);
  }
})();
