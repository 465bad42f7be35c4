// Browser test of the NOC dashboard, run by cmd/noctua's e2e test:
//   node noc.mjs <dashboard URL with token> <screenshot dir>
// It opens the NOC page in Debian's chromium, waits for live numbers, checks
// that they keep updating and the journey table's log column, follows the
// Payments tile to the squad page and checks its API table (with each API's
// span error codes beside its error %) and its journey table's log column
// (clicking a journey's top code filters the Logs panel to that journey and
// code), then one of its journeys and its steps' log and span code columns, saving
// a screenshot of each page. It prints one JSON line with what it saw
// and exits non-zero on any failure.
import { chromium } from 'playwright-core';

const [url, outDir] = process.argv.slice(2);
if (!url || !outDir) {
  console.error('usage: node noc.mjs URL OUTDIR');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});
const seen = {};
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // The dense mode keeps the tiles, the codes panel and the journeys table.
  await page.goto(url + (url.includes('?') ? '&' : '?') + 'dense=1');

  // Live numbers: at least four domain tiles with traffic.
  await page.waitForFunction(
    () => document.querySelectorAll('.tile[data-domain]:not([data-health="nodata"])').length >= 4,
    null, { timeout: 60000 });
  seen.tiles = await page.$$eval('.tile[data-domain]', (ts) => ts.map((t) => ({
    domain: t.dataset.domain, health: t.dataset.health,
    rps: t.querySelector('[data-metric="rps"]')?.textContent,
    apdex: t.querySelector('[data-metric="apdex"]')?.textContent,
  })));
  for (const t of seen.tiles.filter((t) => t.health !== 'nodata')) {
    if (!/\[\d/.test(t.apdex || '')) throw new Error(`tile ${t.domain}: Apdex shown without its T: ${t.apdex}`);
  }

  // The error-code panel fills from the demo's log lines (pushed through
  // the Loki endpoint), and every tile carries its "top code" line.
  await page.waitForSelector('#codes[data-state="data"] #codes-table tbody tr[data-code]', { timeout: 30000 });
  seen.codesSummary = await page.textContent('#codes-summary');
  const tileLines = await page.$$eval('.tile[data-domain]', (ts) => ts.map((t) => t.querySelector('[data-metric="top-code"]')?.textContent));
  if (tileLines.some((l) => !/timeouts \d+ · retries \d+/.test(l || ''))) throw new Error(`tile without its top-code line: ${tileLines}`);
  // Every tile carries its span codes line (top 3 of its failed spans).
  const tileSpans = await page.$$eval('.tile[data-domain]', (ts) => ts.map((t) => t.querySelector('[data-metric="span-codes"]')?.textContent));
  if (tileSpans.some((l) => !/^span codes: /.test(l || ''))) throw new Error(`tile without its span codes line: ${tileSpans}`);
  seen.codes = await page.$$eval('#codes-table tbody tr[data-code]', (rs) => rs.map((r) => ({
    code: r.dataset.code, count: Number(r.dataset.count), cls: r.querySelector('.code')?.dataset.class,
    domains: r.cells[4]?.textContent,
  })));
  for (const c of seen.codes) {
    if (!c.code || !(c.count > 0) || !['business', 'application', 'system', 'other'].includes(c.cls) || !c.domains) {
      throw new Error(`bad error-code row: ${JSON.stringify(c)}`);
    }
  }
  const counts = seen.codes.map((c) => c.count);
  if (counts.some((n, i) => i && n > counts[i - 1])) throw new Error(`codes not most frequent first: ${counts}`);
  seen.tileTopCodes = await page.$$eval('[data-metric="top-code"][data-code]:not([data-code=""])', (ls) => ls.map((l) => l.dataset.code));
  if (!seen.tileTopCodes.length) throw new Error('codes in the panel but no tile shows a top code');
  // Every journey row has its "top code · timeouts · retries" cell; the
  // demo's log lines carry journey ids, so some journey shows a top code.
  await page.waitForFunction(() => document.querySelectorAll('#journeys tbody tr[data-journey] [data-metric="top-code"]:not([data-code=""])').length > 0,
    null, { timeout: 30000 });
  const journeyLines = await page.$$eval('#journeys tbody tr[data-journey]', (rs) => rs.map((r) => r.querySelector('[data-metric="top-code"]')?.textContent));
  if (!journeyLines.length || journeyLines.some((l) => !/timeouts \d+ · retries \d+/.test(l || ''))) {
    throw new Error(`journey rows without their top-code cell: ${journeyLines}`);
  }
  seen.journeyTopCodes = await page.$$eval('#journeys tbody tr[data-journey] [data-metric="top-code"]:not([data-code=""])', (ls) => ls.map((l) => l.dataset.code));

  // Still live: the websocket sequence number advances.
  const seq1 = Number(await page.getAttribute('body', 'data-seq'));
  await page.waitForFunction((s) => Number(document.body.dataset.seq) > s + 1, seq1, { timeout: 15000 });
  seen.seq = [seq1, Number(await page.getAttribute('body', 'data-seq'))];
  await page.screenshot({ path: `${outDir}/noc.png`, fullPage: true });

  // Follow the Payments tile to the squad page.
  await page.click('.tile[data-domain="payments"] a');
  await page.waitForURL(/domain/, { timeout: 10000 });
  await page.waitForFunction(
    () => document.querySelectorAll('#apis tbody tr[data-api]').length >= 3, null, { timeout: 30000 });
  seen.apis = await page.$$eval('#apis tbody tr[data-api]', (rs) => rs.map((r) => r.dataset.api));
  if (!seen.apis.includes('POST /payments')) throw new Error(`payments page lacks POST /payments: ${seen.apis}`);
  // Per API: codes, timeouts and retries beside p99 and Apdex.
  const apiLogCells = await page.$$eval('#apis tbody tr[data-api]', (rs) => rs.map((r) => [
    r.querySelector('[data-metric="codes"]')?.textContent, r.querySelector('[data-metric="timeouts"]')?.textContent,
    r.querySelector('[data-metric="retries"]')?.textContent]));
  if (apiLogCells.some(([c, t, r]) => !c || !/^\d+$/.test(t || '') || !/^\d+$/.test(r || ''))) {
    throw new Error(`API rows without codes/timeouts/retries: ${JSON.stringify(apiLogCells.slice(0, 3))}`);
  }
  // Per API, beside its error %: the top error codes of its failed spans
  // (at most 5, most first, each with its class and count). The demo's
  // spans fail with codes, so some API shows one.
  await page.waitForFunction(() => document.querySelectorAll('#apis tbody tr[data-api] [data-metric="span-codes"] .code[data-code]').length > 0,
    null, { timeout: 30000 });
  const spanCells = await page.$$eval('#apis tbody tr[data-api]', (rs) => rs.map((r) => {
    const cell = r.querySelector('[data-metric="span-codes"]');
    return {
      api: r.dataset.api, beside: cell?.previousElementSibling?.dataset.metric, pct: cell?.previousElementSibling?.textContent,
      codes: [...(cell?.querySelectorAll('.code[data-code]') || [])].map((c) => ({ code: c.dataset.code, cls: c.dataset.class, count: Number(c.dataset.count) })),
      text: cell?.textContent,
    };
  }));
  for (const c of spanCells) {
    if (c.beside !== 'error-pct' || !c.text) throw new Error(`API ${c.api}: span codes cell missing or not beside its error %: ${JSON.stringify(c)}`);
    if (c.codes.length > 5) throw new Error(`API ${c.api}: ${c.codes.length} span codes, want at most 5`);
    for (const [i, x] of c.codes.entries()) {
      if (!x.code || !['business', 'application', 'system', 'other'].includes(x.cls) || !(x.count > 0) || (i && x.count > c.codes[i - 1].count)) {
        throw new Error(`API ${c.api}: bad span codes ${JSON.stringify(c.codes)}`);
      }
    }
    if (c.codes.length && /^0(\.0+)?%$/.test(c.pct || '')) throw new Error(`API ${c.api}: span codes ${JSON.stringify(c.codes)} but error ${c.pct}`);
  }
  seen.apiSpanCodes = spanCells.filter((c) => c.codes.length).map((c) => `${c.api}: ${c.codes.map((x) => `${x.code}×${x.count}`).join(' ')}`);
  // The Logs panel lists the domain's recent error lines.
  await page.waitForFunction(() => ['data', 'empty', 'unavailable', 'error'].includes(document.getElementById('logs')?.dataset.state),
    null, { timeout: 15000 });
  seen.logsPanel = await page.getAttribute('#logs', 'data-state');
  seen.logsStatus = await page.textContent('#logs-status');
  if (seen.logsPanel !== 'data') throw new Error(`logs panel ${seen.logsPanel}: ${seen.logsStatus}`);
  seen.logRows = await page.$$eval('#logs-table tbody tr', (rs) => rs.length);
  if (!seen.logRows) throw new Error('logs panel says data but shows no line');
  // The journey table: every row has its "top code · timeouts · retries"
  // cell from this domain's lines; the demo's payments lines carry journey
  // ids and codes, so some journey shows a top code. Read in one go (one
  // render): the rows' timeouts and retries, lines of the domain's journeys,
  // never exceed the domain's own.
  await page.waitForFunction(() => document.querySelectorAll('#journeys tbody tr[data-journey] [data-metric="top-code"]:not([data-code=""])').length > 0,
    null, { timeout: 30000 });
  const domJourneys = await page.evaluate(() => {
    const kpi = (label) => Number([...document.querySelectorAll('#totals .kpi')].find((k) => k.querySelector('.l')?.textContent === label)?.querySelector('.v')?.textContent);
    return {
      rows: [...document.querySelectorAll('#journeys tbody tr[data-journey]')].map((r) => ({
        journey: r.dataset.journey, code: r.querySelector('[data-metric="top-code"]')?.dataset.code,
        text: r.querySelector('[data-metric="top-code"]')?.textContent,
      })),
      timeouts: kpi('timeouts'), retries: kpi('retries'),
    };
  });
  const sums = { timeouts: 0, retries: 0 };
  for (const r of domJourneys.rows) {
    const m = /timeouts (\d+) · retries (\d+)$/.exec(r.text || '');
    if (!m) throw new Error(`squad page journey ${r.journey} without its top-code cell: ${r.text}`);
    sums.timeouts += Number(m[1]);
    sums.retries += Number(m[2]);
  }
  if (!(sums.timeouts <= domJourneys.timeouts) || !(sums.retries <= domJourneys.retries)) {
    throw new Error(`squad page journeys count ${JSON.stringify(sums)}, more than the domain's ${domJourneys.timeouts} timeouts / ${domJourneys.retries} retries`);
  }
  seen.domainJourneyTopCodes = domJourneys.rows.filter((r) => r.code).map((r) => `${r.journey}:${r.code}`);
  seen.domainJourneySums = { ...sums, domainTimeouts: domJourneys.timeouts, domainRetries: domJourneys.retries };
  // Clicking a journey's top log code filters the Logs panel to that
  // journey and code: the form shows both and every line shown carries
  // both (the badge is read at click time: live updates may change it).
  const clickJourney = domJourneys.rows.find((r) => r.code).journey;
  await page.click(`#journeys tbody tr[data-journey=${JSON.stringify(clickJourney)}] [data-metric="top-code"] .code[data-code]`);
  const filter = await page.evaluate(() => ({ journey: document.querySelector('#log-filter [name="journey"]').value,
    code: document.querySelector('#log-filter [name="code"]').value }));
  if (filter.journey !== clickJourney || !filter.code) throw new Error(`journey code click set the filter to ${JSON.stringify(filter)}, want journey ${clickJourney} and its code`);
  await page.waitForFunction((f) => {
    const p = document.getElementById('logs');
    return p.dataset.journey === f.journey && p.dataset.code === f.code && ['data', 'empty', 'error'].includes(p.dataset.state);
  }, filter, { timeout: 15000 });
  const filtered = await page.evaluate(() => ({ state: document.getElementById('logs').dataset.state,
    status: document.getElementById('logs-status').textContent,
    rows: [...document.querySelectorAll('#logs-table tbody tr')].map((r) => ({ code: r.dataset.code, journey: r.dataset.journey })) }));
  if (filtered.state !== 'data' || !filtered.rows.length) throw new Error(`logs panel after the journey code click: ${filtered.state}: ${filtered.status}`);
  const stray = filtered.rows.filter((r) => r.code !== filter.code || r.journey !== filter.journey);
  if (stray.length) throw new Error(`logs panel filtered to ${JSON.stringify(filter)} shows ${JSON.stringify(stray.slice(0, 3))}`);
  seen.journeyCodeClick = { ...filter, rows: filtered.rows.length };
  await page.screenshot({ path: `${outDir}/payments.png`, fullPage: true });

  // Follow one of the squad's journeys: each step has its codes, timeouts
  // and retries.
  await page.click('#journeys tbody tr[data-journey] a');
  await page.waitForURL(/journey/, { timeout: 10000 });
  await page.waitForFunction(() => document.querySelectorAll('#steps tbody tr[data-api] [data-metric="timeouts"]').length > 0,
    null, { timeout: 30000 });
  const stepLogCells = await page.$$eval('#steps tbody tr[data-api]', (rs) => rs.map((r) => [
    r.querySelector('[data-metric="codes"]')?.textContent, r.querySelector('[data-metric="timeouts"]')?.textContent,
    r.querySelector('[data-metric="retries"]')?.textContent, r.querySelector('[data-metric="span-codes"]')?.textContent]));
  if (stepLogCells.some(([c, t, r, sc]) => !c || !/^\d+$/.test(t || '') || !/^\d+$/.test(r || '') || !sc)) {
    throw new Error(`journey steps without codes/timeouts/retries/span codes: ${JSON.stringify(stepLogCells.slice(0, 3))}`);
  }
  seen.journeySteps = stepLogCells.length;
  await page.screenshot({ path: `${outDir}/journey.png`, fullPage: true });
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  console.log(JSON.stringify({ ok: true, ...seen }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e), ...seen }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
