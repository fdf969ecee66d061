// Browser test of the dashboard's input-drift view: Debian's chromium driven by
// playwright-core against a real server that tests/integration/test_screening.py
// set up with a screened model whose inputs drifted. It signs in with a token,
// waits for the drift table, and checks that the drifted feature is listed first
// with its PSI, that values are shown as text, and that the browser saw no CSP
// violation or console error.
//
// Input: one JSON object on stdin {"admin_url", "ca_cert", "browser_home",
// "admin_token", "model", "feature"}. Output: one JSON object on stdout
// {"ok", "checks": [{name, ok, detail}], "rows"}; exit 0 when every check passed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const STEP_TIMEOUT_MS = 30000;
const checks = [];
const report = { ok: false, checks, console_errors: [], csp_violations: [], rows: [] };

function check(name, ok, detail = '') {
  checks.push({ name, ok: Boolean(ok), detail: typeof detail === 'string' ? detail : JSON.stringify(detail) });
  return Boolean(ok);
}

async function readInput() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString());
}

async function run(cfg, context) {
  const page = context.pages()[0] ?? await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const url = msg.location()?.url || '';
    // Chromium asks for /favicon.ico by itself; the page names no icon.
    if (url.endsWith('/favicon.ico') && msg.text().includes('404')) return;
    report.console_errors.push({ text: msg.text(), url });
  });
  page.on('pageerror', (err) => report.console_errors.push({ text: 'uncaught: ' + err.message }));
  await page.goto(cfg.admin_url + '/', { waitUntil: 'load', timeout: STEP_TIMEOUT_MS });
  await page.evaluate(() => document.addEventListener('securitypolicyviolation',
    (e) => { (window.__csp = window.__csp || []).push(e.violatedDirective); }));
  await page.waitForSelector('body[data-ready="true"]', { timeout: STEP_TIMEOUT_MS });
  await page.fill('[data-testid="login-token"]', cfg.admin_token);
  await page.click('[data-testid="token-submit"]');
  await page.waitForSelector('[data-testid="dashboard-view"]:not([hidden])', { timeout: STEP_TIMEOUT_MS });
  await page.waitForSelector('[data-testid="drift-row"]', { timeout: STEP_TIMEOUT_MS });
  report.rows = await page.evaluate(() => [...document.querySelectorAll('[data-testid="drift-row"]')].map(
    (tr) => ({ cells: [...tr.children].map((td) => td.textContent), alarm: tr.classList.contains('alarm'),
      markup: tr.querySelectorAll('td *').length })));
  const mine = report.rows.filter((r) => r.cells[0] === cfg.model);
  check('drift rows are listed for the screened model', mine.length > 0 && mine.length <= 8, report.rows);
  const top = mine[0] || { cells: [] };
  check('the drifted feature is first, with its PSI over 0.25 and marked',
    top.cells[3] === String(cfg.feature) && Number(top.cells[4]) > 0.25 && top.alarm, top);
  check('cells hold text only', report.rows.every((r) => r.markup === 0), report.rows);
  report.csp_violations = await page.evaluate(() => window.__csp || []);
  check('no CSP violations', report.csp_violations.length === 0, report.csp_violations);
  check('no console errors', report.console_errors.length === 0, report.console_errors);
}

async function main() {
  const cfg = await readInput();
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    env: { ...process.env, HOME: cfg.browser_home },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    ignoreHTTPSErrors: false,
  });
  try {
    await run(cfg, context);
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().then(() => {
  report.ok = checks.length > 0 && checks.every((c) => c.ok);
  console.log(JSON.stringify(report));
  process.exit(report.ok ? 0 : 1);
}).catch((e) => {
  report.error = String(e && e.stack || e);
  console.log(JSON.stringify(report));
  process.exit(2);
});
