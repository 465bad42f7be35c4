// The log search panel of the squad page (collapsed there) and of the full
// log search page: a filter form and one page of /api/v1/logs at a time,
// newest first; the first page's from/to pin the range so that "more"
// continues where the previous page ended.
'use strict';
const LogPanel = (() => {
  const { el, codeBadge } = Noctua;
  // init wires the panel; base holds the fixed query (domain, range or
  // from/to). It returns load(append) and show(code, journey).
  function init(base, pageSize) {
    const form = document.getElementById('log-filter');
    const more = document.getElementById('logs-more');
    form.elements.code.value = Noctua.params.get('code') || '';
    form.elements.journey.value = Noctua.params.get('journey') || '';
    let page = null; // {query, from, to, next}
    function logQuery() {
      const q = new URLSearchParams({ ...base, limit: pageSize || '50' });
      const f = form.elements;
      for (const k of ['journey', 'code', 'level', 'q']) if (f[k].value.trim()) q.set(k, f[k].value.trim());
      if (f.error.checked) q.set('error', 'true');
      return q;
    }
    async function load(append) {
      const status = document.getElementById('logs-status');
      const panel = document.getElementById('logs');
      const q = append ? new URLSearchParams(page.query) : logQuery();
      if (append) { q.delete('range'); q.set('from', page.from); q.set('to', page.to); q.set('cursor', page.next); }
      more.disabled = true;
      try {
        const r = await Noctua.getJSON('/api/v1/logs?' + q.toString());
        page = { query: append ? page.query : logQuery().toString(), from: r.from, to: r.to, next: r.next };
        // The filter the rows answer, for whoever waits on a click.
        panel.dataset.journey = r.filter.journey || '';
        panel.dataset.code = new URLSearchParams(page.query).get('code') || '';
        const tb = document.querySelector('#logs-table tbody');
        const rows = r.logs.map(logRow);
        if (append) tb.append(...rows); else tb.replaceChildren(...rows);
        const n = tb.children.length;
        panel.dataset.state = n ? 'data' : 'empty';
        status.replaceChildren(n ? `${n} line(s) shown` + (r.next ? ' · more available' : ' · all shown')
          : el('span', { class: 'empty' }, (form.elements.error.checked ? 'no error logs in range' : 'no logs in range') + ' for this filter'));
        more.hidden = !r.next;
        document.dispatchEvent(new CustomEvent('noctua:logs', { detail: { n, next: r.next } }));
      } catch (e) {
        panel.dataset.state = e.status === 501 ? 'unavailable' : 'error';
        status.replaceChildren(el('span', { class: 'empty' }, e.status === 501 ? 'logs are not available from this store' : 'logs: ' + e.message));
        more.hidden = true;
      } finally {
        more.disabled = false;
      }
    }
    function logRow(l) {
      return el('tr', { class: 'lv-' + (l.level || 'unknown'), 'data-code': l.error_code, 'data-journey': l.journey },
        el('td', { class: 'ts' }, l.ts.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')),
        el('td', {}, l.level || '–'), el('td', {}, l.service), el('td', {}, l.api || '–'),
        el('td', {}, l.error_code ? codeBadge({ code: l.error_code, class: l.error_class }) : '–',
          l.timeout ? el('span', { class: 'flag' }, ' timeout') : null, l.retry ? el('span', { class: 'flag' }, ' retry') : null),
        el('td', { class: 'msg', title: l.labels }, l.message),
        el('td', { class: 'trace' }, l.trace_id || ''));
    }
    form.addEventListener('submit', (ev) => { ev.preventDefault(); load(false); });
    more.addEventListener('click', () => load(true));
    function show(code, journey) {
      form.elements.code.value = code;
      form.elements.journey.value = journey;
      const d = document.getElementById('logs-details');
      if (d) d.open = true;
      load(false);
      document.getElementById('logs').scrollIntoView({ behavior: 'smooth', block: 'start' });
    }
    return { load, show };
  }
  return { init };
})();
