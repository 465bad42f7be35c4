// Infrastructure page: hosts (CPU, memory, network, IOPS, disk) and network
// probes from /api/v1/infra and /api/v1/probes, refreshed every 5 s, for
// every domain in scope or one (?domain=). Panels are built by
// NoctuaInfra so that other pages can embed them (see infra-panel.js).
'use strict';

const NoctuaInfra = (() => {
  const { el } = Noctua;
  const num = (v, d) => (v === null || v === undefined ? '–' : v.toFixed(d === undefined ? 1 : d));
  const pct = (v) => (v === null || v === undefined ? '–' : v.toFixed(1) + '%');
  const bytes = (v) => {
    if (v === null || v === undefined) return '–';
    const u = ['B/s', 'kB/s', 'MB/s', 'GB/s'];
    let i = 0;
    while (v >= 1000 && i < u.length - 1) { v /= 1000; i++; }
    return v.toFixed(v >= 100 ? 0 : 1) + ' ' + u[i];
  };

  // chart draws points' values (0..max) as an SVG polyline, with a dashed
  // line at warn when given.
  function chart(points, value, max, warn) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('viewBox', '0 0 120 24');
    svg.setAttribute('preserveAspectRatio', 'none');
    const ps = points || [];
    if (ps.length) {
      const hi = max || Math.max(...ps.map(value), 1e-9);
      const pl = document.createElementNS(ns, 'polyline');
      pl.setAttribute('points', ps.map((p, i) => `${ps.length === 1 ? 60 : (i * 120) / (ps.length - 1)},${24 - (22 * value(p)) / hi - 1}`).join(' '));
      svg.append(pl);
      if (warn) {
        const l = document.createElementNS(ns, 'line');
        l.setAttribute('class', 'warn');
        const y = 24 - (22 * warn) / hi - 1;
        l.setAttribute('x1', '0'); l.setAttribute('x2', '120'); l.setAttribute('y1', y); l.setAttribute('y2', y);
        svg.append(l);
      }
    }
    svg.dataset.points = String(ps.length);
    return svg;
  }

  function figCell(v, warn, crit) {
    const h = v === null || v === undefined ? '' : v >= crit ? 'h-crit' : v >= warn ? 'h-warn' : '';
    return el('td', { class: 'n fig ' + h }, pct(v));
  }

  // hostRows fills tbody with the hosts of an /infra answer.
  function hostRows(tbody, infra, th) {
    tbody.replaceChildren(...(infra.hosts.length ? infra.hosts.map((h) => {
      const c = h.current, s = h.series || {};
      return el('tr', { class: 'h-' + h.health, 'data-host': h.host, 'data-health': h.health },
        el('td', {}, h.host, h.stale ? el('span', { class: 'flag' }, ' stale') : null),
        el('td', { class: 'dim' }, h.services.join(', ')),
        figCell(c.cpu_pct, th.warn, th.crit),
        el('td', {}, chart(s.host_cpu_utilisation_pct, (p) => p.mean, 100, th.warn)),
        figCell(c.memory_pct, th.warn, th.crit),
        el('td', {}, chart(s.host_memory_utilisation_pct, (p) => p.mean, 100, th.warn)),
        el('td', { class: 'n' }, bytes(c.net_rx_bytes_per_sec)),
        el('td', { class: 'n' }, bytes(c.net_tx_bytes_per_sec)),
        el('td', { class: 'n' }, num(c.disk_iops, 0)),
        el('td', { class: 'n' }, bytes(c.disk_bytes_per_sec)),
        el('td', { class: 'n' }, pct(c.fs_max_used_pct)),
        h.last_error ? el('td', { class: 'err', title: h.last_error }, h.last_error)
          : el('td', { class: 'dim' }, h.last_scrape && !h.last_scrape.startsWith('0001') ? new Date(h.last_scrape).toLocaleTimeString() : '–'));
    }) : [el('tr', {}, el('td', { class: 'empty', colSpan: 12 }, 'no host scraped in this range'))]));
  }

  // probeRows fills tbody with the probes of a /probes answer.
  function probeRows(tbody, probes) {
    tbody.replaceChildren(...(probes.probes.length ? probes.probes.map((p) => el('tr', { class: 'h-' + p.health, 'data-target': p.target, 'data-health': p.health },
      el('td', {}, p.target, p.stale ? el('span', { class: 'flag' }, ' stale') : null),
      el('td', {}, p.domain),
      el('td', { class: 'dim' }, [p.journey, p.api].filter(Boolean).join(' / ') || '–'),
      el('td', { class: 'n' }, p.probes ? (100 * p.success_ratio).toFixed(1) + '%' : '–'),
      el('td', {}, chart(p.series, (x) => x.success_ratio, 1)),
      el('td', { class: 'n' }, Noctua.fmt.ms(p.duration_ms)),
      el('td', { class: 'n' }, p.http_status === null ? '–' : String(p.http_status)),
      el('td', { class: 'n' }, num(p.tls_days_left, 0)),
      p.last_failure_reason ? el('td', { class: 'err' }, new Date(p.last_failure).toLocaleTimeString() + ' · ' + p.last_failure_reason) : el('td', { class: 'dim' }, 'none')))
      : [el('tr', {}, el('td', { class: 'empty', colSpan: 9 }, 'no probe in this range'))]));
  }

  // domainTiles fills the tiles of /infra's domains with their probes' health.
  function domainTiles(box, infra, probes) {
    const probeOf = {};
    for (const p of probes.probes) (probeOf[p.domain] = probeOf[p.domain] || []).push(p);
    box.replaceChildren(...infra.domains.map((d) => {
      const ps = probeOf[d.domain] || [];
      const bad = ps.filter((p) => p.health === 'crit' || p.health === 'warn').length;
      const health = [d.health, ...ps.map((p) => p.health)].sort((a, b) => rank(a) - rank(b))[0];
      return el('div', { class: 'tile h-' + health, 'data-domain': d.domain, 'data-health': health },
        el('a', { class: 'tile-link', href: Noctua.withToken('infra.html?domain=' + encodeURIComponent(d.domain)) },
          el('div', { class: 'tile-head' }, el('span', { class: 'name' }, d.domain), el('span', { class: 'squad' }, `${d.hosts} host(s)` + (d.down ? ` · ${d.down} down` : ''))),
          el('div', { class: 'kpis' },
            kpi(pct(d.worst.cpu_pct), 'worst CPU'), kpi(pct(d.worst.memory_pct), 'worst memory'),
            kpi(pct(d.average.cpu_pct), 'avg CPU'), kpi(pct(d.average.memory_pct), 'avg memory')),
          el('div', { class: 'infra-line' }, ps.length ? `probes: ${ps.length - bad}/${ps.length} healthy` : 'no probes')));
    }));
  }
  const rank = (h) => ({ crit: 0, warn: 1, nodata: 2 }[h] ?? 3);
  const kpi = (v, l) => el('div', { class: 'kpi' }, el('div', { class: 'v' }, v), el('div', { class: 'l' }, l));

  // stepFor picks about 30 points over a range like "15m" (at least 10 s).
  function stepFor(range) {
    const m = /^(\d+)([smhd])$/.exec(range || '15m');
    const sec = m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2]] : 900;
    return Math.max(10, Math.round(sec / 30)) + 's';
  }

  // load fetches both views for the query (domain, range) and fills the page.
  async function load(q) {
    const qs = new URLSearchParams({ range: q.range, step: stepFor(q.range) });
    if (q.domain) qs.set('domain', q.domain);
    return Promise.all([Noctua.getJSON('/api/v1/infra?' + qs), Noctua.getJSON('/api/v1/probes?' + qs)]);
  }

  return { chart, hostRows, probeRows, domainTiles, load, stepFor };
})();

(async () => {
  if (!document.getElementById('hosts') || !document.getElementById('domains')) return; // embedded elsewhere
  const q = { domain: Noctua.params.get('domain') || '', range: Noctua.params.get('range') || '15m' };
  document.getElementById('range').textContent = 'last ' + q.range;
  if (q.domain) {
    document.getElementById('title').textContent = 'infrastructure · ' + q.domain;
    document.getElementById('back').href = Noctua.withToken('domain.html?domain=' + encodeURIComponent(q.domain));
  }
  await Noctua.whoami();
  const status = document.getElementById('live');
  async function tick() {
    try {
      const [infra, probes] = await NoctuaInfra.load(q);
      NoctuaInfra.domainTiles(document.getElementById('domains'), infra, probes);
      const th = { warn: infra.thresholds.saturation_pct_warn, crit: infra.thresholds.saturation_pct_crit };
      NoctuaInfra.hostRows(document.querySelector('#hosts tbody'), infra, th);
      NoctuaInfra.probeRows(document.querySelector('#probes tbody'), probes);
      for (const id of ['domains', 'hosts', 'probes']) document.getElementById(id).dataset.state = 'ready';
      status.className = 'live fresh';
      status.textContent = 'updated ' + new Date().toLocaleTimeString();
    } catch (e) {
      status.className = 'live stale';
      status.textContent = 'error: ' + e.message;
    }
  }
  await tick();
  setInterval(tick, 5000);
})();
