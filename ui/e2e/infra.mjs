// Browser test of the infrastructure page, run by cmd/noctua's e2e test:
//   node infra.mjs <dashboard URL with the NOC token> <screenshot dir>
// It opens /infra.html in Debian's chromium while the demo's simulated
// node_exporters and blackbox_exporter are scraped, waits for every demo
// host's figures (CPU and memory within 0–100 %, charts drawn) and every
// domain's probe, follows a domain tile to that domain's hosts only, then
// opens the page with a squad token and checks it shows its own domain's
// hosts and probes only; then loads the NOC add-on (noc-infra.js) into the
// NOC page and the squad panels (infra-panel.js) into a squad page and
// checks what they show. It prints one JSON line and exits non-zero on any
// failure.
import { chromium } from 'playwright-core';

const [url, outDir] = process.argv.slice(2);
if (!url || !outDir) {
  console.error('usage: node infra.mjs URL OUTDIR');
  process.exit(2);
}
const base = new URL(url);
const infraURL = (token, domain) => `${base.origin}/infra.html?token=${token}` + (domain ? `&domain=${domain}` : '');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const seen = {};
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(infraURL(base.searchParams.get('token')));
  // CPU needs two scrapes (15 s apart): wait for every host's CPU.
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#hosts tbody tr[data-host]')];
    return rows.length >= 20 && rows.every((r) => /%$/.test(r.children[2].textContent)) &&
      document.querySelectorAll('#probes tbody tr[data-target]').length >= 5;
  }, null, { timeout: 60000 });
  const hosts = await page.$$eval('#hosts tbody tr[data-host]', (rs) => rs.map((r) => ({
    host: r.dataset.host, health: r.dataset.health, cpu: parseFloat(r.children[2].textContent),
    mem: parseFloat(r.children[4].textContent), points: Number(r.querySelector('svg.chart').dataset.points),
  })));
  for (const h of hosts) {
    if (!(h.cpu >= 0 && h.cpu <= 100 && h.mem >= 0 && h.mem <= 100)) throw new Error(`host ${h.host}: CPU ${h.cpu} memory ${h.mem}`);
    if (h.points < 1) throw new Error(`host ${h.host}: no CPU chart`);
  }
  seen.hosts = hosts.length;
  seen.probes = await page.$$eval('#probes tbody tr[data-target]', (rs) => rs.map((r) => `${r.dataset.target}:${r.dataset.health}`));
  seen.tiles = await page.$$eval('.tile[data-domain]', (ts) => ts.map((t) => `${t.dataset.domain}:${t.dataset.health}`));
  if (seen.tiles.length < 5) throw new Error(`${seen.tiles.length} domain tiles`);
  await page.screenshot({ path: `${outDir}/infra.png`, fullPage: true });

  // A domain tile leads to that domain's hosts.
  await page.click('.tile[data-domain="payments"] a');
  await page.waitForURL(/domain=payments/, { timeout: 10000 });
  await page.waitForFunction(() => document.querySelectorAll('#hosts tbody tr[data-host]').length > 0, null, { timeout: 15000 });
  const payHosts = await page.$$eval('#hosts tbody tr[data-host]', (rs) => rs.map((r) => r.children[1].textContent));
  if (payHosts.some((s) => !/payment|bill|fraud/.test(s))) throw new Error(`payments page shows ${payHosts}`);
  seen.paymentsHosts = payHosts.length;

  // A squad sees its own domain only.
  await page.goto(infraURL('cards-demo-token'));
  await page.waitForFunction(() => document.querySelectorAll('#hosts tbody tr[data-host]').length > 0, null, { timeout: 15000 });
  const squad = await page.evaluate(() => ({
    tiles: [...document.querySelectorAll('.tile[data-domain]')].map((t) => t.dataset.domain),
    probes: [...document.querySelectorAll('#probes tbody tr[data-target]')].map((r) => r.children[1].textContent),
  }));
  if (squad.tiles.join() !== 'cards' || squad.probes.some((d) => d !== 'cards')) throw new Error(`cards squad sees ${JSON.stringify(squad)}`);
  seen.squad = squad;
  await page.screenshot({ path: `${outDir}/infra-cards.png`, fullPage: true });

  // The add-ons of the NOC page's tiles (its dense mode) and of the squad
  // page, wired into both pages.
  const dense = new URL(url);
  dense.searchParams.set('dense', '1');
  await page.goto(dense.toString());
  // Read the lines in the same tick that finds them: the page patches its
  // tiles every second and the add-on re-decorates them after.
  const lines = await page.waitForFunction(() => {
    const ls = [...document.querySelectorAll('.tile[data-domain] [data-metric="infra"]')].map((l) => l.textContent);
    return ls.length >= 5 ? ls : null;
  }, null, { timeout: 30000 });
  seen.nocInfraLines = await lines.jsonValue();
  if (seen.nocInfraLines.some((l) => !/^hosts: worst CPU \d+% · mem \d+%.* · probes \d+\/\d+ ok$/.test(l))) throw new Error(`NOC infra lines ${seen.nocInfraLines}`);
  await page.goto(`${base.origin}/domain.html?domain=payments&token=payments-demo-token`);
  await page.waitForFunction(() => document.querySelectorAll('#infra-hosts tbody tr[data-host]').length > 0 &&
    document.querySelectorAll('#infra-probes tbody tr[data-target]').length > 0, null, { timeout: 30000 });
  seen.squadPanelHosts = await page.$$eval('#infra-hosts tbody tr[data-host]', (rs) => rs.length);
  if (seen.squadPanelHosts !== seen.paymentsHosts) throw new Error(`squad panel shows ${seen.squadPanelHosts} hosts, the payments infra page ${seen.paymentsHosts}`);
  await page.screenshot({ path: `${outDir}/squad-infra.png`, fullPage: true });
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  console.log(JSON.stringify({ ok: true, ...seen }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e), ...seen }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
