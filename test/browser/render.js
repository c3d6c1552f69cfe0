// test/browser/render.js -- open an HTML file in headless Chromium, offline,
// and say what happened, as one JSON object on standard output:
//
//   node render.js REPORT.html [SCREENSHOT.png]
//
// {"console": [messages of level error or warning], "pageErrors": [...],
//  "requests": [every URL the page asked for besides the file itself and
//  data: URLs], "nonBackground": share of the first screen's pixels that
//  differ from its top-left pixel, "colours": distinct colours on it,
//  "headings": the h2 texts, "svgs": inline SVG elements, "scripts":
//  script elements, "text": the page's text, "flameFrames":
//  <rect> elements of the flame graph (.pp-flame svg)}
//
// The browser is Debian's chromium (CHROMIUM overrides /usr/bin/chromium),
// driven by puppeteer-core (pinned in package-lock.json).  As root,
// Chromium's sandbox cannot run: --no-sandbox then.  The first screen
// (1280 x 900) is written to SCREENSHOT.png when it is given
// (docs/img/report-html.png is made so, test/browser/screenshot.sh).
'use strict';
const fs = require('fs');
const path = require('path');
const url = require('url');
const puppeteer = require('puppeteer-core');

async function main() {
  const file = path.resolve(process.argv[2]);
  const png = process.argv[3];
  const fileUrl = url.pathToFileURL(file).href;
  const args = ['--disable-dev-shm-usage', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update'];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args,
  });
  const out = { console: [], pageErrors: [], requests: [] };
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    await page.setOfflineMode(true);
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn' || m.type() === 'warning')
        out.console.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => out.pageErrors.push(String(e)));
    page.on('request', (r) => {
      const u = r.url();
      if (u !== fileUrl && !u.startsWith('data:')) out.requests.push(u);
    });
    await page.goto(fileUrl, { waitUntil: 'load', timeout: 60000 });
    Object.assign(out, await page.evaluate(() => {
      const flame = document.querySelector('.pp-flame svg');
      return {
        headings: [...document.querySelectorAll('h2')].map((h) => h.textContent),
        text: document.body.innerText,
        svgs: document.querySelectorAll('svg').length,
        scripts: document.querySelectorAll('script').length,
        flameFrames: flame ? flame.querySelectorAll('rect').length : 0,
      };
    }));
    const shot = await page.screenshot({ type: 'png' });
    if (png) fs.writeFileSync(png, shot);

    // the screenshot decoded by the browser itself: how much of it is not
    // background, and how many colours it has
    const check = await browser.newPage();
    Object.assign(out, await check.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const img = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
      const canvas = new OffscreenCanvas(img.width, img.height);
      const ctx = canvas.getContext('2d');
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, img.width, img.height).data;
      const colours = new Set();
      let other = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2]) other++;
        colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      }
      return { width: img.width, height: img.height, nonBackground: other / (d.length / 4),
        colours: colours.size };
    }, Buffer.from(shot).toString('base64')));
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`render.js: ${e.stack || e}\n`);
  process.exit(1);
});
