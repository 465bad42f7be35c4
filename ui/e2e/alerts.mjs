// Browser test of the alerting add-ons, run by cmd/noctua's
// TestBrowserAlerts:
//   node alerts.mjs <server base URL> <screenshot dir>
// The server's checkout journey (payments and cards) burns its SLO. It
// checks: the NOC page's alerts panel (noc-alerts.js) lists the firing
// alerts, the 1h/5m page first with its summary; the cards tile — whose
// own requests are fine — is red with an alert line, the accounts tile is
// not; the cards squad page (alerts-panel.js) lists the alert; the
// accounts squad page lists none. It prints one JSON line and exits
// non-zero on any failure.
import { chromium } from 'playwright-core';

const [base, outDir] = process.argv.slice(2);
if (!base || !outDir) {
  console.error('usage: node alerts.mjs BASE OUTDIR');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const seen = {};
let page;
try {
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/index.html?token=noc-token-e2e&dense=1`);
  await page.waitForFunction(() => document.querySelectorAll('#alerts li[data-key]').length === 3, null, { timeout: 30000 });
  seen.panel = await page.$$eval('#alerts li[data-key]', (ls) => ls.map((l) => ({ key: l.dataset.key, severity: l.dataset.severity, text: l.textContent })));
  const first = seen.panel[0];
  if (first.key !== 'slo/journey/checkout/availability/1h/5m' || first.severity !== 'page') throw new Error(`first alert ${JSON.stringify(first)}`);
  if (!/checkout: burn [\d.]+× over 1h and [\d.]+× over 5m, 2% of the 30-day budget/.test(first.text)) throw new Error(`summary ${first.text}`);
  await page.waitForFunction(() => {
    const t = document.querySelector('.tile[data-domain="cards"]');
    return t && t.dataset.alert === 'page' && t.classList.contains('h-crit') && t.querySelector('[data-metric="alerts"]');
  }, null, { timeout: 30000 });
  seen.tiles = await page.$$eval('.tile[data-domain]', (ts) => ts.map((t) => ({ domain: t.dataset.domain, cls: t.className, alert: t.dataset.alert || '' })));
  const acc = seen.tiles.find((t) => t.domain === 'accounts');
  if (!acc || acc.alert || acc.cls.includes('h-crit')) throw new Error(`accounts tile ${JSON.stringify(acc)}`);
  await page.screenshot({ path: `${outDir}/alerts-noc.png` });

  await page.goto(`${base}/domain.html?domain=cards&token=cards-token-e2e`);
  await page.waitForFunction(() => document.querySelectorAll('#alerts li[data-key]').length === 3, null, { timeout: 30000 });
  seen.cards = await page.$$eval('#alerts li[data-key]', (ls) => ls.map((l) => l.dataset.key));
  await page.screenshot({ path: `${outDir}/alerts-squad.png` });

  await page.goto(`${base}/domain.html?domain=accounts&token=acc-token-e2e`);
  await page.waitForFunction(() => document.getElementById('alerts')?.dataset.state === 'calm', null, { timeout: 30000 });
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  console.log(JSON.stringify({ ok: true, seen }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e), seen }));
  if (page) await page.screenshot({ path: `${outDir}/alerts-failure.png` }).catch(() => {});
  await browser.close();
  process.exit(1);
}
await browser.close();
