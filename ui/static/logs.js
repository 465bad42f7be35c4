// The full log search page of a domain: every line (not only errors),
// paged, over the page's range.
'use strict';
(() => {
  const domain = Noctua.params.get('domain') || '';
  const range = Noctua.currentRange('15m');
  Noctua.rangePicker(range);
  const link = document.getElementById('dom-link');
  link.textContent = domain;
  link.href = 'domain.html?domain=' + encodeURIComponent(domain) + '&' + Noctua.rangeQuery(range);
  document.getElementById('log-filter').elements.error.checked = Noctua.params.get('error') === 'true';
  const base = { domain, ...(range.fixed ? { from: range.from, to: range.to } : { range: range.range }) };
  Noctua.whoami();
  LogPanel.init(base, '200').load(false);
})();
