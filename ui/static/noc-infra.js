// NOC page add-on: each domain tile (.tile[data-domain]) gets a line with
// its hosts' saturation (worst CPU and memory %) and its probes' health,
// and turns amber or red when those cross the configured thresholds
// (health.saturation_pct_*, health.probe_success_*) even if its requests
// are fine. Live over the page's websocket (the "infra" and "probes" views;
// by REST every 5 s for a fixed range) and
// re-applied whenever the page redraws its tiles. To wire it into
// index.html, load infra.css and this file after noc.js:
//   <link rel="stylesheet" href="infra.css"><script src="noc-infra.js" defer></script>
'use strict';
(() => {
  const tiles = document.getElementById('tiles');
  if (!tiles) return;
  const { el } = Noctua;
  const rank = (h) => ({ crit: 0, warn: 1, nodata: 2, ok: 3 }[h] ?? 3);
  let byDomain = {};
  const pct = (v) => (v === null || v === undefined ? '–' : v.toFixed(0) + '%');

  function decorate() {
    for (const t of tiles.querySelectorAll('.tile[data-domain]')) {
      const d = byDomain[t.dataset.domain];
      const old = t.querySelector('[data-metric="infra"]');
      if (!d) { if (old) old.remove(); continue; }
      const line = el('div', { class: 'infra-line', 'data-metric': 'infra', 'data-health': d.health },
        d.hosts ? `hosts: worst CPU ${pct(d.cpu)} · mem ${pct(d.mem)}` + (d.down ? ` · ${d.down} down` : '') : 'no hosts',
        ' · ', d.probes ? `probes ${d.probesOK}/${d.probes} ok` : 'no probes');
      if (old) old.replaceWith(line); else (t.querySelector('a.tile-link') || t).append(line);
      // Infrastructure may make a tile worse, never better.
      if (d.health !== 'nodata' && rank(d.health) < rank(t.dataset.health)) {
        t.classList.remove('h-' + t.dataset.health);
        t.classList.add('h-' + d.health);
        t.dataset.health = d.health;
        t.dataset.infraHealth = d.health;
      }
    }
  }

  // combine folds the latest infra and probes answers into the lines.
  let infra = null, probes = null;
  function combine() {
    if (!infra || !probes) return;
    const m = {};
    for (const g of infra.domains) {
      m[g.domain] = { hosts: g.hosts, down: g.down, cpu: g.worst.cpu_pct, mem: g.worst.memory_pct, health: g.health, probes: 0, probesOK: 0 };
    }
    for (const p of probes.probes) {
      const d = m[p.domain] = m[p.domain] || { hosts: 0, down: 0, health: 'nodata', probes: 0, probesOK: 0 };
      d.probes++;
      if (p.health === 'ok') d.probesOK++;
      if (rank(p.health) < rank(d.health)) d.health = p.health;
    }
    byDomain = m;
    apply();
  }
  const range = Noctua.params.get('range') || '15m';
  async function tick() {
    try {
      [infra, probes] = await Promise.all([Noctua.getJSON('/api/v1/infra?range=' + range), Noctua.getJSON('/api/v1/probes?range=' + range)]);
      combine();
    } catch (e) { /* the tiles keep their last infra line */ }
  }
  // The page patches its tiles in place every second: re-apply after each change.
  const apply = Noctua.keepDecorated(tiles, decorate);
  // Live on the page's websocket (the "infra" and "probes" views); by REST
  // every 5 s when the page has none (a fixed range).
  const live = /^\d+[smhd]$/.test(range) ? range : '15m';
  if (!(Noctua.subscribe({ id: 'noc-infra', view: 'infra', range: live }, (v) => { infra = v; combine(); }) &&
        Noctua.subscribe({ id: 'noc-probes', view: 'probes', range: live }, (v) => { probes = v; combine(); }))) {
    tick();
    setInterval(tick, 5000);
  }
})();
