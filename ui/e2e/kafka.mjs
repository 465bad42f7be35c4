// Browser test of the Kafka-lag page and its add-ons, run by cmd/noctua's
// TestBrowserKafka:
//   node kafka.mjs <dashboard URL with the NOC token> <screenshot dir> <expectations JSON>
// The server polls a kfake cluster where one consumer group (want.lagging)
// is want.lag messages behind with its commit frozen and another
// (want.caughtUp) has no lag. It opens /kafka.html in Debian's chromium and
// checks: both groups listed with the exact lag in messages, worst first;
// the lagging group turns STOP (red: no consumer, commit frozen) and
// stays first; clicking it shows its topic and partitions with their exact
// lags; the NOC page (dense) shows the kafka line on both domains' tiles,
// the lagging domain's tile red and the group in the worst-groups panel;
// the lagging domain's squad page lists its group linking to the Kafka
// page; a squad token of another domain does not see the group. It prints
// one JSON line and exits non-zero on any failure.
import { chromium } from 'playwright-core';

const [url, outDir, wantJSON] = process.argv.slice(2);
if (!url || !outDir || !wantJSON) {
  console.error('usage: node kafka.mjs URL OUTDIR EXPECTATIONS');
  process.exit(2);
}
const want = JSON.parse(wantJSON);
const base = new URL(url);
const nocToken = base.searchParams.get('token');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const seen = {};
let page;
const rows = (page) => page.$$eval('#kafka-groups tbody tr[data-group]', (rs) => rs.map((r) => ({
  group: r.dataset.group, domain: r.dataset.domain, status: r.dataset.status, health: r.dataset.health,
  lag: Number(r.dataset.lagOffsets), lagText: r.querySelector('[data-metric="lag-offsets"]').textContent,
  lagTime: r.querySelector('[data-metric="lag-seconds"]').textContent, coverage: r.querySelector('[data-metric="coverage"]').textContent,
  points: Number(r.querySelector('svg.chart')?.dataset.points || 0),
})));
try {
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base.origin}/kafka.html?token=${nocToken}&range=15m`);
  // Both groups, live over the websocket, the lagging one first.
  await page.waitForFunction((w) => {
    const rs = [...document.querySelectorAll('#kafka-groups tbody tr[data-group]')];
    return rs.length === 2 && rs.some((r) => r.dataset.group === w.caughtUp);
  }, want, { timeout: 30000 });
  let rs = await rows(page);
  seen.first = rs;
  const [lag, ok] = rs;
  if (lag.group !== want.lagging || lag.domain !== want.laggingDomain || ok.group !== want.caughtUp || ok.domain !== want.caughtUpDomain) throw new Error(`order or domains: ${JSON.stringify(rs)}`);
  if (lag.lag !== want.lag || lag.lagText !== String(want.lag)) throw new Error(`${want.lagging} shows ${lag.lagText} (${lag.lag}) messages, want ${want.lag}`);
  if (ok.lag !== 0 || ok.lagText !== '0') throw new Error(`${want.caughtUp} shows ${ok.lagText} messages, want 0`);
  if (lag.coverage !== '2/2' || ok.coverage !== '1/1') throw new Error(`coverage ${lag.coverage} ${ok.coverage}`);
  if (!/^(\d+ s|\d+ m \d+ s|\d+ h \d+ m|\d+ d \d+ h)$/.test(lag.lagTime)) throw new Error(`lag time ${lag.lagTime}`);

  // The window (10 polls of 1 s) fills: nobody consumes the group: STOP, red
  // and first; the caught-up group is OK.
  await page.waitForFunction((w) => {
    const rs = [...document.querySelectorAll('#kafka-groups tbody tr[data-group]')];
    return rs.length === 2 && rs[0].dataset.group === w.lagging && rs[0].dataset.status === 'STOP' && rs[1].dataset.status === 'OK';
  }, want, { timeout: 40000 });
  rs = await rows(page);
  seen.stalled = rs;
  if (rs[0].health !== 'crit' || rs[1].health !== 'ok') throw new Error(`health ${rs[0].health} ${rs[1].health}`);
  if (rs[0].lag !== want.lag) throw new Error(`after the stall ${rs[0].lag} messages, want ${want.lag}`);
  if (!(rs[0].points >= 2)) throw new Error(`lag sparkline of ${rs[0].points} point(s)`);
  // A uPlot chart of lag seconds per group, worst first, with the polls seen.
  seen.charts = await page.$$eval('#kafka-charts .kchart', (cs) => cs.map((c) => ({ group: c.dataset.group, points: Number(c.querySelector('.kplot').dataset.points), canvas: !!c.querySelector('canvas') })));
  if (seen.charts.map((c) => c.group).join() !== [want.lagging, want.caughtUp].join() || seen.charts.some((c) => !c.canvas || c.points < 2)) throw new Error(`charts ${JSON.stringify(seen.charts)}`);
  const statusText = await page.$eval(`#kafka-groups tr[data-group="${want.lagging}"] [data-metric="status"]`, (td) => td.textContent);
  if (statusText !== 'STOP') throw new Error(`status cell ${statusText}`);
  const why = await page.$eval(`#kafka-groups tr[data-group="${want.lagging}"] [data-metric="status"] .kstatus`, (s) => s.title);
  if (!why.startsWith(`no consumer: ${want.lag} messages waiting`)) throw new Error(`status reason "${why}"`);

  // A group's topics and partitions.
  await page.click(`#kafka-groups tr[data-group="${want.lagging}"] td[data-metric="cluster"]`);
  await page.waitForFunction((w) => document.getElementById('kafka-detail').dataset.state === 'ready' &&
    document.getElementById('kafka-detail').dataset.group === w.lagging, want, { timeout: 10000 });
  seen.detail = await page.evaluate(() => ({
    topics: [...document.querySelectorAll('#kafka-topics tr[data-topic]')].map((r) => [r.dataset.topic, Number(r.dataset.lagOffsets)]),
    partitions: Object.fromEntries([...document.querySelectorAll('#kafka-partitions tr[data-partition]')].map((r) => [r.dataset.partition, Number(r.dataset.lagOffsets)])),
  }));
  if (JSON.stringify(seen.detail.topics) !== JSON.stringify([[want.topic, want.lag]])) throw new Error(`topics ${JSON.stringify(seen.detail.topics)}`);
  if (JSON.stringify(seen.detail.partitions) !== JSON.stringify(want.partitions)) throw new Error(`partitions ${JSON.stringify(seen.detail.partitions)}`);
  if (!new URL(page.url()).searchParams.get('group')) throw new Error('the selected group is not in the address');
  await page.screenshot({ path: `${outDir}/kafka.png`, fullPage: true });

  // The NOC page (dense: its tiles): the kafka lines, the stalled domain red.
  await page.goto(`${base.origin}/index.html?dense=1&token=${nocToken}`);
  const noc = await page.waitForFunction((w) => {
    const tile = (d) => document.querySelector(`.tile[data-domain="${d}"]`);
    const line = (d) => tile(d)?.querySelector('[data-metric="kafka"]')?.textContent;
    const worst = [...document.querySelectorAll('#kafka-worst li[data-group]')].map((l) => `${l.dataset.group}:${l.dataset.status}`);
    const t = tile(w.laggingDomain);
    return t && line(w.laggingDomain) && line(w.caughtUpDomain) && worst.length ? {
      lagging: line(w.laggingDomain), caughtUp: line(w.caughtUpDomain), worst,
      health: t.dataset.health, red: t.classList.contains('h-crit'),
    } : null;
  }, want, { timeout: 30000 });
  seen.noc = await noc.jsonValue();
  if (seen.noc.lagging !== 'kafka 1 group · 1 STOP' || seen.noc.caughtUp !== 'kafka 1 group · all OK') throw new Error(`NOC kafka lines ${JSON.stringify(seen.noc)}`);
  if (seen.noc.health !== 'crit' || !seen.noc.red) throw new Error(`the ${want.laggingDomain} tile is not red: ${JSON.stringify(seen.noc)}`);
  if (seen.noc.worst.join() !== `${want.lagging}:STOP`) throw new Error(`worst groups ${seen.noc.worst}`);
  // It stays red across the page's own redraws (every second).
  await page.waitForTimeout(2500);
  const still = await page.$eval(`.tile[data-domain="${want.laggingDomain}"]`, (t) => t.classList.contains('h-crit') && !!t.querySelector('[data-metric="kafka"]'));
  if (!still) throw new Error('the tile lost its kafka colour or line after a redraw');
  await page.screenshot({ path: `${outDir}/noc-kafka.png`, fullPage: true });

  // The squad page lists its domain's group, linking to the Kafka page.
  await page.goto(`${base.origin}/domain.html?domain=${want.laggingDomain}&token=${want.squadToken}`);
  await page.waitForFunction((w) => document.querySelector(`#kafka-panel tr[data-group="${w.lagging}"]`), want, { timeout: 20000 });
  seen.panel = await page.$eval(`#kafka-panel tr[data-group="${want.lagging}"]`, (r) => ({
    status: r.dataset.status, lag: r.querySelector('[data-metric="lag-offsets"]').textContent, href: r.querySelector('a').getAttribute('href'),
    rows: r.parentNode.querySelectorAll('tr[data-group]').length,
  }));
  if (seen.panel.status !== 'STOP' || seen.panel.lag !== String(want.lag) || seen.panel.rows !== 1) throw new Error(`squad panel ${JSON.stringify(seen.panel)}`);
  const href = new URL(seen.panel.href, base.origin);
  if (href.pathname !== '/kafka.html' || href.searchParams.get('domain') !== want.laggingDomain || href.searchParams.get('group') !== want.lagging) throw new Error(`squad panel link ${seen.panel.href}`);
  // Its link opens the group's detail.
  await page.click(`#kafka-panel tr[data-group="${want.lagging}"] a`);
  await page.waitForFunction((w) => document.getElementById('kafka-detail')?.dataset.group === w.lagging &&
    document.getElementById('kafka-detail').dataset.state === 'ready', want, { timeout: 15000 });

  // Another domain's squad does not see the group.
  await page.goto(`${base.origin}/kafka.html?token=${want.otherSquadToken}`);
  await page.waitForFunction(() => document.getElementById('kafka-groups').dataset.state !== 'loading', null, { timeout: 20000 });
  await page.waitForTimeout(1500); // a second update
  seen.otherSquad = await page.$$eval('#kafka-groups tbody tr[data-group]', (rs) => rs.map((r) => r.dataset.group));
  if (seen.otherSquad.join() !== want.caughtUp) throw new Error(`${want.otherSquadToken} sees ${seen.otherSquad}`);
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  console.log(JSON.stringify({ ok: true, ...seen }));
} catch (e) {
  // What the page showed, and what the API answers, for the log.
  seen.at = page && await page.evaluate(async () => ({
    url: location.href, live: document.getElementById('live')?.textContent, problem: document.getElementById('problem')?.textContent,
    state: document.getElementById('kafka-groups')?.dataset.state,
    api: await fetch('/api/v1/kafka?range=15m&token=' + encodeURIComponent(sessionStorage.getItem('noctua.token') || '')).then((r) => r.text()).catch(String),
  })).catch(String);
  console.log(JSON.stringify({ ok: false, error: String(e), ...seen }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
