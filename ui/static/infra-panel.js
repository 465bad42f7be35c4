// Squad page add-on: an Infrastructure panel (the domain's hosts: CPU,
// memory, network, IOPS, disk, with CPU and memory charts over the range)
// and a Network panel (the domain's probes), refreshed every 5 s from
// /api/v1/infra and /api/v1/probes. To wire it into domain.html, load
// infra.css, infra.js and then this file after domain.js:
//   <link rel="stylesheet" href="infra.css">
//   <script src="infra.js" defer></script><script src="infra-panel.js" defer></script>
'use strict';
(() => {
  const main = document.querySelector('main');
  const domain = Noctua.params.get('domain') || '';
  if (!main || !domain || typeof NoctuaInfra === 'undefined') return;
  const { el } = Noctua;
  const range = Noctua.params.get('range') || '15m';
  const hostHead = ['Host', 'Services', 'CPU', 'CPU over range', 'Memory', 'memory over range', 'net in', 'net out', 'IOPS', 'disk', 'fullest fs', 'last scrape'];
  const probeHead = ['Target', 'Domain', 'Journey / API', 'success', 'success over range', 'duration', 'HTTP', 'TLS days', 'last failure'];
  const num = new Set(['CPU', 'Memory', 'net in', 'net out', 'IOPS', 'disk', 'fullest fs', 'success', 'duration', 'HTTP', 'TLS days']);
  const table = (id, head) => el('table', { id, class: 'grid', 'data-state': 'loading' },
    el('thead', {}, el('tr', {}, head.map((h) => el('th', { class: num.has(h) ? 'n' : '' }, h)))), el('tbody'));
  main.append(
    el('section', { id: 'infra' }, el('h2', {}, 'Infrastructure ', el('span', { class: 'hint' }, 'the hosts of this squad\'s services, worst first · ',
      el('a', { href: Noctua.withToken('infra.html?domain=' + encodeURIComponent(domain) + '&range=' + range) }, 'full page'))),
    table('infra-hosts', hostHead)),
    el('section', { id: 'network' }, el('h2', {}, 'Network ', el('span', { class: 'hint' }, 'probes of this domain, worst first')),
      table('infra-probes', probeHead)));
  async function tick() {
    try {
      const [infra, probes] = await NoctuaInfra.load({ domain, range });
      NoctuaInfra.hostRows(document.querySelector('#infra-hosts tbody'), infra,
        { warn: infra.thresholds.saturation_pct_warn, crit: infra.thresholds.saturation_pct_crit });
      NoctuaInfra.probeRows(document.querySelector('#infra-probes tbody'), probes);
      document.getElementById('infra-hosts').dataset.state = 'ready';
      document.getElementById('infra-probes').dataset.state = 'ready';
    } catch (e) {
      document.getElementById('infra-hosts').dataset.state = 'error: ' + e.message;
    }
  }
  tick();
  setInterval(tick, 5000);
})();
