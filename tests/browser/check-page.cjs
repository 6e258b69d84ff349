// Loads one eris page in headless Chromium (Debian's, driven by playwright-core) and prints, as one line of JSON,
// what the browser drew: the page's status and title, every request it made, its console errors, and per SVG chart
// its rendered size, its series (with their data points and drawn length) and how many of each mark it drew.
// Usage: node check-page.cjs URL [SCREENSHOT.png]; CHROMIUM names the browser (default /usr/bin/chromium).
// Run by tests/common/mod.rs (`browser_check`), with NODE_PATH at the playwright-core that .ci/browser installed.
const { chromium } = require('playwright-core');

async function main() {
  const [url, screenshot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // The machine's network is closed: no background connections, no updates.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const requests = [];
    const errors = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
    page.on('pageerror', (error) => errors.push(String(error)));
    const response = await page.goto(url, { waitUntil: 'load' });
    const charts = await page.$$eval('svg.chart', (svgs) => svgs.map((svg) => {
      const drawn = (selector) => [...svg.querySelectorAll(selector)].filter((element) => {
        const box = element.getBoundingClientRect();
        return box.width > 0 && box.height > 0;
      }).length;
      const present = (selector) => svg.querySelectorAll(selector).length;
      const box = svg.getBoundingClientRect();
      return {
        chart: svg.dataset.chart,
        width: box.width,
        height: box.height,
        series: [...svg.querySelectorAll('path.series')].map((path) => ({
          name: path.dataset.series,
          points: Number(path.dataset.points),
          length: path.getTotalLength(),
        })),
        points: drawn('circle.point'),
        ranges: present('line.range'),
        windows: drawn('rect.window'),
        markers: drawn('circle.marker'),
        spans: drawn('rect.span'),
        bars: drawn('rect.bar'),
        thresholds: present('line.threshold'),
        reference: present('line.reference'),
      };
    }));
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    console.log(JSON.stringify({ status: response.status(), title: await page.title(), requests, errors, charts }));
  } finally {
    await browser.close();
  }
}

main().catch((error) => { console.error(error); process.exit(1); });
