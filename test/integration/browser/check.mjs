// Opens an HTML report in Debian's chromium through playwright-core and checks what a reader would meet:
// no dialog (an injected alert), no console error (a CSP violation is one), no request for anything but the
// file itself, no element that log text could have injected, a chart that drew, the hostile strings shown as
// text. Saves desktop and phone screenshots and a PDF print next to the report.
//
//   node check.mjs --report artifacts/integration/browser/report.html --out artifacts/integration/browser
// Exit status: 0 pass, 1 a check failed, 2 setup error.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const report = path.resolve(opt('--report', 'artifacts/integration/browser/report.html'));
const out = path.resolve(opt('--out', path.dirname(report)));
const executablePath = opt('--chromium', '/usr/bin/chromium');
if (!fs.existsSync(report)) {
  console.error(`check.mjs: no report at ${report}`);
  process.exit(2);
}
if (!fs.existsSync(executablePath)) {
  console.error(`check.mjs: ${executablePath} not found (apt-get install chromium)`);
  process.exit(2);
}
fs.mkdirSync(out, { recursive: true });

const fileUrl = pathToFileURL(report).href;
const failures = [];
const fail = (msg) => {
  failures.push(msg);
  console.error(`FAIL ${msg}`);
};
const pass = (msg) => console.log(`ok   ${msg}`);

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: 1280, height: 900 },
  // The page must work with what it carries: JavaScript is left on so that an injected script *would* run.
  javaScriptEnabled: true,
});

const events = { dialogs: [], consoleErrors: [], pageErrors: [], requests: [] };
const watch = (page) => {
  page.on('dialog', async (d) => {
    events.dialogs.push(`${d.type()}: ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') events.consoleErrors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => events.pageErrors.push(String(e)));
  page.on('request', (r) => {
    if (r.url() !== fileUrl) events.requests.push(`${r.method()} ${r.url()}`);
  });
};

try {
  // Anything but the report itself is refused before it leaves the browser (and recorded above).
  await context.route('**/*', (route) =>
    route.request().url() === fileUrl ? route.continue() : route.abort('blockedbyclient'),
  );
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page);
  await page.goto(fileUrl, { waitUntil: 'load' });
  await page.waitForTimeout(500);

  // --- the page is what it claims to be
  const csp = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
  if (csp?.includes("default-src 'none'")) pass(`CSP: ${csp}`);
  else fail(`no strict CSP meta (got ${csp})`);
  const counts = await page.evaluate(() => ({
    script: document.querySelectorAll('script').length,
    img: document.querySelectorAll('img').length,
    iframe: document.querySelectorAll('iframe,object,embed').length,
    onAttr: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name)))
      .length,
    link: document.querySelectorAll('link').length,
  }));
  if (counts.script === 0 && counts.img === 0 && counts.iframe === 0 && counts.onAttr === 0 && counts.link === 0) {
    pass('no script, img, iframe, link or on* attribute in the DOM');
  } else fail(`injected elements in the DOM: ${JSON.stringify(counts)}`);

  // --- the hostile strings are there, as text
  // biome-ignore lint/performance/useDomNodeTextContent: what a reader sees, not the stylesheet's text
  const text = await page.evaluate(() => document.body.innerText);
  for (const needle of ['<script>alert(1)</script>', '"><img/src=x/onerror=alert(2)>', '<svg/onload=alert(3)>']) {
    if (text.includes(needle)) pass(`hostile text shown literally: ${needle}`);
    else fail(`hostile text not shown as text: ${needle}`);
  }
  if (text.includes('\x1b')) fail('a raw ESC reached the page text');
  else pass('no raw ESC in the page text (shown as \\x1b)');

  // --- the chart drew
  const chart = await page.evaluate(() => {
    const svgs = [...document.querySelectorAll('svg.chart')];
    return svgs.map((s) => {
      const r = s.getBoundingClientRect();
      const rects = [...s.querySelectorAll('rect')].filter((x) => {
        const b = x.getBoundingClientRect();
        return b.width > 0 && b.height > 0;
      });
      return { width: r.width, height: r.height, rects: rects.length };
    });
  });
  if (chart.length > 0 && chart.every((c) => c.width > 100 && c.height > 50 && c.rects > 0)) {
    pass(`charts rendered: ${JSON.stringify(chart)}`);
  } else fail(`chart not rendered: ${JSON.stringify(chart)}`);

  await page.screenshot({ path: path.join(out, 'report-desktop.png'), fullPage: true });
  pass(`screenshot ${path.join(out, 'report-desktop.png')}`);

  // --- a phone: no sideways scrolling of the page itself (wide tables scroll inside their box)
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow <= 1) pass('phone width: the page does not scroll sideways');
  else fail(`phone width: the page is ${overflow}px wider than the screen`);
  await page.screenshot({ path: path.join(out, 'report-phone.png'), fullPage: true });

  // --- print
  await page.emulateMedia({ media: 'print' });
  const pdf = await page.pdf({ path: path.join(out, 'report.pdf'), format: 'A4', printBackground: true });
  if (pdf.length > 10_000) pass(`printed to PDF (${pdf.length} bytes)`);
  else fail(`PDF suspiciously small: ${pdf.length} bytes`);
} catch (e) {
  fail(`browser run failed: ${e?.stack ?? e}`);
} finally {
  await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}

if (events.dialogs.length) fail(`dialogs opened: ${events.dialogs.join(' | ')}`);
else pass('no dialog');
if (events.consoleErrors.length || events.pageErrors.length) {
  fail(`console errors: ${[...events.consoleErrors, ...events.pageErrors].join(' | ')}`);
} else pass('no console error or warning');
if (events.requests.length) fail(`network requests: ${events.requests.join(' | ')}`);
else pass('no network request besides the file');

fs.writeFileSync(path.join(out, 'check.json'), `${JSON.stringify({ report, failures, events }, null, 2)}\n`);
console.log(failures.length === 0 ? 'browser check: PASS' : `browser check: FAIL (${failures.length})`);
process.exit(failures.length === 0 ? 0 : 1);
