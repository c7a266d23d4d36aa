// Opens explorer pages in real headless Debian chromium and reports, as JSON
// on stdout, what each page's in-browser verification concluded.
//
//   node tests/browser/explore.mjs [--screenshot-dir DIR] URL...
//
// For each URL: {url, status, verified ("true"/"false"/null), reason (the
// badge text), ms (navigation start to verdict, from data-verified-ms), bytes
// (HTML size), offsite (requests to other origins), console (errors and CSP
// violations)}. A URL suffixed with #phone is shown at a phone's viewport;
// with --screenshot-dir every page is saved there as a PNG.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
let shots = null;
const urls = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--screenshot-dir') shots = args[++i];
  else urls.push(args[i]);
}
if (urls.length === 0) {
  console.error('usage: node tests/browser/explore.mjs [--screenshot-dir DIR] URL...');
  process.exit(2);
}
if (shots) mkdirSync(shots, { recursive: true });

const profile = mkdtempSync(join(tmpdir(), 'sealwax-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const results = [];
try {
  for (const [n, raw] of urls.entries()) {
    const phone = raw.endsWith('#phone');
    const url = phone ? raw.slice(0, -'#phone'.length) : raw;
    const page = await context.newPage();
    await page.setViewportSize(phone ? { width: 390, height: 844 } : { width: 1280, height: 900 });
    const origin = new URL(url).origin;
    const offsite = [];
    const consoleErrors = [];
    page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) offsite.push(r.url()); });
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    const response = await page.goto(url, { waitUntil: 'domcontentloaded' });
    const html = await response.text();
    let verified = null;
    try {
      await page.waitForSelector('main[data-verified="true"], main[data-verified="false"]', { timeout: 15000 });
    } catch { /* reported as verified: null */ }
    const main = await page.$('main');
    verified = main ? await main.getAttribute('data-verified') : null;
    const ms = main ? Number(await main.getAttribute('data-verified-ms')) : null;
    const badge = await page.$('#verify-badge');
    const reason = badge ? (await badge.textContent()).trim() : null;
    if (shots) {
      const name = `${String(n).padStart(2, '0')}-${new URL(url).pathname.replace(/[^a-z0-9]+/gi, '_')}${phone ? '-phone' : ''}.png`;
      await page.screenshot({ path: join(shots, name), fullPage: true });
    }
    results.push({ url: raw, status: response.status(), verified, reason, ms, bytes: Buffer.byteLength(html), offsite, console: consoleErrors });
    await page.close();
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(results, null, 1) + '\n');
