// Memory test of the NOC wall view (issue 12), run by benchmarks'
// BenchmarkWallHeap (not in CI):
//   node heap.mjs <dashboard URL with token> <minutes>
// It keeps the wall open for <minutes> of live updates (one a second) and
// samples the page's JS heap after a forced GC every 30 s; it fails when
// the heap at the end is more than 20% above its size after the first
// minute. It prints one JSON line with the samples.
import { chromium } from 'playwright-core';

const [url, minutes] = process.argv.slice(2);
const total = Number(minutes || 10) * 60000;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const cdp = await page.context().newCDPSession(page);
  await page.goto(url);
  await page.waitForFunction(() => Number(document.body.dataset.seq) > 2, null, { timeout: 60000 });
  const heap = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    const u = await cdp.send('Runtime.getHeapUsage');
    return u.usedSize;
  };
  const t0 = Date.now();
  const samples = [];
  let base = null;
  while (Date.now() - t0 < total) {
    await page.waitForTimeout(30000);
    const s = { s: Math.round((Date.now() - t0) / 1000), heap: await heap(), seq: Number(await page.getAttribute('body', 'data-seq')),
      nodes: await page.evaluate(() => document.getElementsByTagName('*').length) };
    samples.push(s);
    if (base === null && s.s >= 60) base = s.heap;
  }
  const end = samples[samples.length - 1].heap;
  const growth = base ? (end - base) / base : 0;
  const ok = base !== null && growth <= 0.2 && !errors.length;
  console.log(JSON.stringify({ ok, baseBytes: base, endBytes: end, growth, updates: samples[samples.length - 1].seq, errors, samples }));
  process.exitCode = ok ? 0 : 1;
} finally {
  await browser.close();
}
