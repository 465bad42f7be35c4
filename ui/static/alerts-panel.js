// Squad page add-on: the domain's alerts (its own SLOs, the journeys that
// cross it, its Kafka groups, probes and hosts), firing first and then
// recently resolved, from /api/v1/alerts?domain= every 5 s. To wire it
// into domain.html, load it after domain.js:
//   <script src="alerts-panel.js" defer></script>
'use strict';
(() => {
  const main = document.querySelector('main');
  const domain = Noctua.params.get('domain') || '';
  if (!main || !domain) return;
  const { el, setText } = Noctua;
  const section = el('section', { id: 'alerts-box' },
    el('h2', {}, 'Alerts ', el('span', { class: 'hint' }, 'this domain\'s, firing first, then resolved in the last 24 h')),
    el('ol', { id: 'alerts', class: 'alerts', 'data-state': 'loading' }),
    el('div', { id: 'alerts-more', class: 'hint' }));
  const h = main.querySelector('h2');
  if (h && h.parentNode === main) main.insertBefore(section, h); else main.prepend(section);
  let last = '';
  async function tick() {
    try {
      const v = await Noctua.getJSON('/api/v1/alerts?domain=' + encodeURIComponent(domain));
      const as = v.alerts || [];
      const ol = document.getElementById('alerts');
      ol.dataset.state = as.length ? 'data' : 'calm';
      setText(document.getElementById('alerts-more'), as.length ? `${v.firing} firing` : 'no alert');
      const sig = JSON.stringify(as.map((a) => [a.key, a.state, a.summary]));
      if (sig === last) return;
      last = sig;
      ol.replaceChildren(...as.map((a) => el('li', { class: 'alert ' + (a.state === 'firing' ? 'h-' + (a.severity === 'page' ? 'crit' : 'warn') : 'resolved'),
        'data-key': a.key, 'data-state': a.state, 'data-severity': a.severity },
        el('span', { class: 'sev' }, a.state === 'firing' ? a.severity : 'resolved'), ' ',
        el('span', { class: 'summary' }, a.summary), ' ',
        el('span', { class: 'hint' }, a.state === 'firing' ? 'since ' + new Date(a.starts_at).toLocaleTimeString()
          : 'resolved ' + new Date(a.ends_at).toLocaleTimeString()))));
    } catch (e) { /* keep the last list */ }
  }
  tick();
  setInterval(tick, 5000);
})();
