// Browser test of the live dashboard: Debian's chromium driven by playwright-core
// against a real, running Aegis server that tests/integration/test_dashboard_browser.py
// set up. It logs in through the form, makes traffic, watches the tiles change, checks
// the security headers and that the browser saw no CSP violation or console error,
// and saves a screenshot.
//
// Input: one JSON object on stdin (secrets never go on the command line):
//   {"admin_url", "data_url", "ca_cert", "browser_home", "user", "password",
//    "totp_secret", "admin_token", "admin_token_id", "model", "infer_body",
//    "screenshot", "incident_subject", "version", "revision", "hostile_user",
//    "hostile_token_name", "integrity_model"}
// Output: one JSON object on stdout {"ok", "checks": [{name, ok, detail}], ...};
// exit 0 when every check passed, 1 otherwise, 2 when the test could not run.
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const EXPECTED_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const STEP_TIMEOUT_MS = 30000;

const checks = [];
const report = { ok: false, checks, console_errors: [], csp_violations: [], before: null, after: null };

function check(name, ok, detail = '') {
  checks.push({ name, ok: Boolean(ok), detail: typeof detail === 'string' ? detail : JSON.stringify(detail) });
  return Boolean(ok);
}

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s) from a base32 secret.
function totp(secretB32, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secretB32.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(code).padStart(6, '0');
}
const currentStep = () => Math.floor(Date.now() / 1000 / 30);

// One HTTPS request from node (traffic generation), verifying the installation's CA.
function request(cfg, url, { method = 'GET', token, body } = {}) {
  return new Promise((resolve, reject) => {
    const headers = {};
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const req = https.request(url, { method, headers, ca: fs.readFileSync(cfg.ca_cert), timeout: 20000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function readInput() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString());
}

const intOf = (text) => Number(String(text).replace(/[^0-9]/g, '')) || 0;

async function tiles(page) {
  return page.evaluate(() => {
    const t = (id) => document.querySelector(`[data-testid="${id}"]`)?.textContent ?? '';
    return {
      updates: Number(document.body.dataset.updates || 0),
      requests: t('kpi-requests'),
      allowed: t('kpi-allowed'),
      denied: t('kpi-denied'),
      auth_failures: t('kpi-auth-failures'),
      window_allowed: t('access-allowed'),
      window_denied: t('access-denied'),
      tree_size: t('audit-tree-size'),
      audit_badge: document.querySelector('[data-testid="audit-badge"]')?.dataset.status ?? '',
      model_rows: document.querySelectorAll('[data-testid="model-row"]').length,
      model_cards: document.querySelectorAll('[data-testid="model-card"]').length,
      stage_bars: document.querySelectorAll('[data-testid="chart-stages"] rect').length,
      access_polygons: document.querySelectorAll('[data-testid="chart-access"] polygon').length,
      denied_bars: document.querySelectorAll('[data-testid="access-denied-bar"]').length,
      auth_bars: document.querySelectorAll('[data-testid="chart-auth"] rect').length,
      incidents_open: t('incidents-open'),
      live: document.querySelector('[data-testid="live-status"]')?.dataset.state ?? '',
    };
  });
}

async function main() {
  const cfg = await readInput();
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-chromium-'));
  // A persistent context on a fresh, empty profile: Playwright's own way of passing
  // --user-data-dir. ignoreHTTPSErrors stays false: the page loads only because the
  // CA is trusted.
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    // HOME holds the NSS database in which the test trusts the installation's CA.
    env: { ...process.env, HOME: cfg.browser_home },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    ignoreHTTPSErrors: false,
    viewport: { width: 1440, height: 1000 },
    deviceScaleFactor: 1,
  });
  try {
    await run(cfg, context);
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

async function run(cfg, context) {
  const page = context.pages()[0] ?? await context.newPage();
  // Expected refusals (the wrong password's 401) are noted here, so that their
  // "Failed to load resource" console line is told apart from real errors.
  const expectedFailures = new Set();
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const url = msg.location()?.url || '';
    // The page names its icon (/dashboard/favicon.svg), so the browser never asks
    // for /favicon.ico: a 404 for it would be a console error like any other.
    const expected = [...expectedFailures].some((s) => msg.text().includes(s.status) && url.endsWith(s.path));
    if (!expected) report.console_errors.push({ text: msg.text(), url });
  });
  page.on('pageerror', (err) => report.console_errors.push({ text: 'uncaught: ' + err.message }));
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample });
    });
  });

  // ---- the page and its headers
  const mainResponse = await page.goto(cfg.admin_url + '/', { waitUntil: 'load', timeout: STEP_TIMEOUT_MS });
  const headers = mainResponse.headers();
  check('page loads over trusted TLS', mainResponse.status() === 200, `status ${mainResponse.status()}`);
  check('CSP header on the page', headers['content-security-policy'] === EXPECTED_CSP, headers['content-security-policy']);
  check('nosniff / no-referrer / DENY / no-store',
    headers['x-content-type-options'] === 'nosniff' && headers['referrer-policy'] === 'no-referrer' &&
    headers['x-frame-options'] === 'DENY' && headers['cache-control'] === 'no-store', headers);
  await page.waitForSelector('body[data-ready="true"]', { timeout: STEP_TIMEOUT_MS });
  // ---- the favicon is the server's own, under the same CSP (img-src 'self')
  const icon = await page.evaluate(async () => {
    const link = document.querySelector('link[rel="icon"]');
    if (!link) return null;
    const r = await fetch(link.href, { cache: 'no-store' });
    return { href: link.getAttribute('href'), status: r.status, type: r.headers.get('content-type'),
      csp: r.headers.get('content-security-policy'), body: (await r.text()).slice(0, 200) };
  });
  check('favicon served by the server', icon !== null && icon.href === '/dashboard/favicon.svg' && icon.status === 200 &&
    /^image\/svg\+xml/.test(icon.type || '') && icon.body.includes('<svg') && icon.csp === EXPECTED_CSP, icon);
  check('login form shown first', await page.isVisible('[data-testid="login-form"]'));

  // ---- a wrong password shows the error and does not log in
  expectedFailures.add({ status: '401', path: '/v1/login' });
  await page.fill('[data-testid="login-user"]', cfg.user);
  await page.fill('[data-testid="login-password"]', cfg.password + '-wrong');
  await page.fill('[data-testid="login-totp"]', totp(cfg.totp_secret, currentStep()));
  const [badLogin] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/login'), { timeout: STEP_TIMEOUT_MS }),
    page.click('[data-testid="login-submit"]'),
  ]);
  await page.waitForSelector('[data-testid="login-error"]:not([hidden])', { timeout: STEP_TIMEOUT_MS });
  const errorText = await page.textContent('[data-testid="login-error"]');
  check('wrong password is refused with 401', badLogin.status() === 401, `status ${badLogin.status()}`);
  check('wrong password shows an error', /invalid user name, password or code/i.test(errorText), errorText);
  check('still on the login form', await page.isVisible('[data-testid="login-form"]') &&
    !(await page.isVisible('[data-testid="dashboard-view"]')));
  check('password field cleared after the attempt', (await page.inputValue('[data-testid="login-password"]')) === '');

  // ---- the real login
  await page.fill('[data-testid="login-user"]', cfg.user);
  await page.fill('[data-testid="login-password"]', cfg.password);
  await page.fill('[data-testid="login-totp"]', totp(cfg.totp_secret, currentStep()));
  const [goodLogin] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/login'), { timeout: STEP_TIMEOUT_MS }),
    page.click('[data-testid="login-submit"]'),
  ]);
  check('login with password + TOTP succeeds', goodLogin.status() === 200, `status ${goodLogin.status()}`);
  await page.waitForSelector('[data-testid="dashboard-view"]:not([hidden])', { timeout: STEP_TIMEOUT_MS });
  await page.waitForFunction(() => Number(document.body.dataset.updates || 0) >= 2, null, { timeout: STEP_TIMEOUT_MS });
  const who = await page.textContent('[data-testid="who"]');
  check('signed-in user shown', who.includes(cfg.user) && who.includes('auditor'), who);
  const storage = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie }));
  check('credential kept in memory only', storage.local === 0 && storage.session === 0 && storage.cookie === '', storage);
  report.before = await tiles(page);

  // ---- traffic: inferences (allowed) and wrong tokens (denied)
  const inferUrl = `${cfg.data_url}/v2/models/${cfg.model}/infer`;
  const statuses = { ok: 0, denied: 0, other: [] };
  for (let i = 0; i < 25; i++) {
    const r = await request(cfg, inferUrl, { method: 'POST', token: cfg.admin_token, body: cfg.infer_body });
    if (r.status === 200) statuses.ok++; else statuses.other.push(r.status);
  }
  for (let i = 0; i < 12; i++) {
    const r = await request(cfg, inferUrl, { method: 'POST', token: `aegis_0000000000000000_wrong${i}`, body: cfg.infer_body });
    if (r.status === 401) statuses.denied++; else statuses.other.push(r.status);
  }
  check('traffic sent (25 allowed, 12 refused)', statuses.ok === 25 && statuses.denied === 12, statuses);

  // ---- the tiles change while we watch (the page polls by itself)
  const b = report.before;
  let after = b;
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  const grown = (t) => intOf(t.allowed) >= intOf(b.allowed) + 25 && intOf(t.denied) >= intOf(b.denied) + 12 &&
    intOf(t.tree_size) > intOf(b.tree_size) && intOf(t.auth_failures) >= intOf(b.auth_failures) + 12;
  while (Date.now() < deadline) {
    after = await tiles(page);
    if (grown(after)) break;
    await page.waitForFunction((n) => Number(document.body.dataset.updates || 0) > n, after.updates, { timeout: 10000 });
  }
  report.after = after;
  check('allowed counter grew by the inferences', intOf(after.allowed) >= intOf(b.allowed) + 25, { before: b.allowed, after: after.allowed });
  check('denied counter grew by the wrong tokens', intOf(after.denied) >= intOf(b.denied) + 12, { before: b.denied, after: after.denied });
  check('auth failures counter grew', intOf(after.auth_failures) >= intOf(b.auth_failures) + 12, { before: b.auth_failures, after: after.auth_failures });
  check('15-minute window counters grew', intOf(after.window_allowed) > intOf(b.window_allowed) &&
    intOf(after.window_denied) > intOf(b.window_denied), { before: [b.window_allowed, b.window_denied], after: [after.window_allowed, after.window_denied] });
  check('audit tree size grew', intOf(after.tree_size) > intOf(b.tree_size), { before: b.tree_size, after: after.tree_size });
  check('audit verification badge ok', after.audit_badge === 'ok', after.audit_badge);
  check('page reports live', after.live === 'live', after.live);
  check('loaded models listed with signer', after.model_rows >= 1 && after.model_cards === after.model_rows, after);
  const row = await page.evaluate((model) => {
    for (const tr of document.querySelectorAll('[data-testid="model-row"]')) {
      const cells = [...tr.children].map((td) => td.textContent);
      if (cells[0] === model) return cells;
    }
    return null;
  }, cfg.model);
  check('model row names version and signer', row !== null && row[1] !== '' && row[3] !== '' && row[3] !== 'unsigned', row);
  check('model row shows its error rate (no 5xx in this traffic)', row !== null && row[8] === '0.0%', row);
  check('charts drawn as SVG', after.access_polygons >= 1 && after.denied_bars >= 1 && after.stage_bars >= 2 &&
    after.auth_bars >= 1, after);
  // Denials are their own series below the allowed traffic, never stacked on it.
  const layout = await page.evaluate(() => {
    const area = document.querySelector('[data-testid="access-allowed-area"]')?.getBoundingClientRect();
    const bars = [...document.querySelectorAll('[data-testid="access-denied-bar"]')].map((b) => b.getBoundingClientRect());
    return area ? { allowed_bottom: area.bottom, denied_top: Math.min(...bars.map((b) => b.top)), bars: bars.length } : null;
  });
  check('denials drawn apart from allowed traffic', layout !== null && layout.bars >= 1 && layout.denied_top >= layout.allowed_bottom, layout);

  // ---- the version badge names this build
  const version = await page.textContent('[data-testid="version-badge"]');
  check('version badge shows version and revision', await page.isVisible('[data-testid="version-badge"]') &&
    version.includes('v' + cfg.version) && version.includes(cfg.revision), { version, want: [cfg.version, cfg.revision] });

  // ---- recent denials: who, from where, why (the wrong tokens above, and a hostile user name)
  const denials = await page.evaluate(() => [...document.querySelectorAll('[data-testid="denial-row"]')].map((tr) => ({
    who: tr.querySelector('[data-testid="denial-principal"]').textContent,
    from: tr.querySelector('[data-testid="denial-remote"]').textContent,
    why: tr.querySelector('[data-testid="denial-reason"]').textContent,
  })));
  check('recent denials list who, from where and why', denials.some((d) => d.who === 'anonymous' &&
    /^127\.0\.0\.1:\d+$/.test(d.from) && d.why === 'invalid bearer token'), denials.slice(0, 5));
  check('a hostile user name is shown as text in the denials', denials.some((d) => d.who === 'user:' + cfg.hostile_user),
    denials.slice(0, 20));

  // ---- integrity and scanner failures: the unsigned push the test made
  const integrity = await page.evaluate(() => ({
    failures: document.querySelector('[data-testid="integrity-failures"]').textContent,
    reasons: [...document.querySelectorAll('[data-testid="integrity-reason"]')].map((x) => x.textContent),
    items: [...document.querySelectorAll('[data-testid="integrity-item"]')].map((x) => x.textContent),
  }));
  check('integrity failures counted and listed', intOf(integrity.failures) >= 1 && integrity.reasons.some((r) =>
    r.startsWith('integrity check failed')) && integrity.items.some((t) => t.includes(cfg.integrity_model)), integrity);

  // ---- credentials: the break-glass token, tokens without expiry, unused ones
  const creds = await page.evaluate(() => {
    const names = (key) => [...document.querySelectorAll(`[data-testid="credentials-${key}"] [data-testid="credential-name"]`)]
      .map((x) => x.textContent);
    const alert = document.querySelector('[data-testid="break-glass"]');
    return { break_glass: alert.hidden ? '' : alert.textContent, no_expiry: names('no_expiry'), unused: names('unused'),
      expired: names('expired') };
  });
  check('break-glass admin token flagged while active', creds.break_glass.includes('break-glass') &&
    creds.break_glass.includes(cfg.admin_token_id), creds);
  check('tokens without expiry listed', creds.no_expiry.includes('admin') && creds.no_expiry.includes(cfg.hostile_token_name), creds);
  check('unused token listed, used one not', creds.unused.includes(cfg.hostile_token_name) && !creds.unused.includes('admin'), creds);
  const pwnedByServerData = await page.evaluate(() => ({ pwned: window.__pwned !== undefined, images: document.querySelectorAll('main img').length }));
  check('server strings (user and token names) stay text', !pwnedByServerData.pwned && pwnedByServerData.images === 0, pwnedByServerData);

  // ---- the incident the test opened (a locked name) is listed with its timeline
  if (cfg.incident_subject) {
    const incident = await page.evaluate((subject) => {
      for (const li of document.querySelectorAll('[data-testid="incident"]')) {
        if (li.querySelector('.subject').textContent !== subject) continue;
        return { kind: li.dataset.kind, steps: [...li.querySelectorAll('[data-testid="incident-timeline"] li')].map((x) => x.textContent) };
      }
      return null;
    }, cfg.incident_subject);
    check('opened incident listed with its kind', incident !== null && incident.kind === 'brute_force', incident);
    check('incident timeline shows when it opened', incident !== null && incident.steps.length >= 1 &&
      /opened$/.test(incident.steps[0]), incident);
    check('open incidents KPI counts it', intOf(after.incidents_open) >= 1, after.incidents_open);
  }

  // ---- the screenshot (a test artifact)
  fs.mkdirSync(path.dirname(cfg.screenshot), { recursive: true });
  await page.screenshot({ path: cfg.screenshot, fullPage: true });
  check('screenshot saved', fs.statSync(cfg.screenshot).size > 10000, cfg.screenshot);

  // ---- nothing went wrong in the browser during normal use
  report.csp_violations = await page.evaluate(() => window.__cspViolations);
  check('no CSP violations', report.csp_violations.length === 0, report.csp_violations);
  check('no console errors', report.console_errors.length === 0, report.console_errors);

  // ---- untrusted strings stay text: a hostile /v1/dashboard answer (stubbed in the
  // browser only) must not create elements or run script
  const hostile = '<img src=x onerror="window.__pwned=1">';
  await page.route('**/v1/dashboard', (route) => route.fulfill({
    status: 200, contentType: 'application/json',
    body: JSON.stringify({
      generated_at: new Date().toISOString(), bucket_seconds: 5,
      series: { time: [1, 2], allowed: [1, 2], denied: [0, 1], auth_failures: { token: [0, 1], [hostile]: [1, 1] } },
      models: [{ name: hostile, version: hostile, format: hostile, signer: hostile, fingerprint: hostile, requests: [1, 2],
        latency_p50_ms: 1, latency_p95_ms: 2, requests_per_second: 1, error_rate: 0.25 }],
      stages: [{ stage: hostile, count: 1, p50_ms: 1, p95_ms: 2 }],
      incidents: { open: 1, items: [{ id: hostile, kind: hostile, severity: hostile, state: hostile, subject: hostile,
        first_seen: hostile, last_seen: hostile, count: 2, actions: [{ action: hostile, at: hostile, outcome: hostile }] }] },
      audit: { tree_size: 1, signed_tree_size: 1, root: hostile, signed_at: hostile, key_fingerprint: hostile,
        verification: { ok: false, events: 1, checked_at: new Date().toISOString(), detail: hostile } },
      totals: { requests: 1, allowed: 1, denied: 0, auth_failures: 0, models_loaded: 1 },
      build: { version: hostile, revision: hostile },
      denials: [{ time: hostile, principal: hostile, remote: hostile, action: hostile, resource: hostile, status: 403, reason: hostile }],
      integrity: { failures: 1, scan_findings: 2, load_failures: [{ model: hostile, count: 1 }],
        recent: [{ time: hostile, principal: hostile, remote: hostile, action: hostile, resource: hostile, status: 422, reason: hostile }] },
      credentials: { since: hostile, tokens: 3, active: 1,
        break_glass: [{ id: hostile, name: hostile, role: hostile, models: hostile, created_by: hostile, created_at: hostile, expires_at: '', last_used: '' }],
        no_expiry: [{ id: hostile, name: hostile, role: hostile, models: hostile, created_by: hostile, created_at: hostile, expires_at: '', last_used: hostile }],
        expired: [{ id: hostile, name: hostile, role: hostile, models: hostile, created_by: hostile, created_at: hostile, expires_at: hostile, last_used: '' }],
        unused: [] },
    }),
  }));
  await page.waitForFunction((h) => [...document.querySelectorAll('[data-testid="model-row"] td')].some((td) => td.textContent === h),
    hostile, { timeout: STEP_TIMEOUT_MS });
  await page.waitForFunction((h) => [...document.querySelectorAll('[data-testid="credentials-expired"] [data-testid="credential-name"]')]
    .some((x) => x.textContent === h), hostile, { timeout: STEP_TIMEOUT_MS });
  const shown = await page.evaluate((h) => ({
    denial: document.querySelector('[data-testid="denial-principal"]')?.textContent === h,
    integrity: document.querySelector('[data-testid="integrity-reason"]')?.textContent === h,
    version: document.querySelector('[data-testid="version-badge"]')?.textContent.includes(h),
  }), hostile);
  check('hostile denials, integrity reasons, token names and versions shown as text', shown.denial && shown.integrity && shown.version, shown);
  const xss = await page.evaluate(() => ({
    pwned: window.__pwned !== undefined,
    images: document.querySelectorAll('main img, header img').length,
    badge: document.querySelector('[data-testid="audit-badge"]').dataset.status,
  }));
  check('hostile names rendered as text, no script ran', !xss.pwned && xss.images === 0, xss);
  const errorRate = await page.evaluate(() => document.querySelector('[data-testid="model-error-rate"]')?.textContent);
  check('a model\'s error rate is shown as a percentage', errorRate === '25.0%', errorRate);
  check('failed verification shows the failed badge', xss.badge === 'failed', xss.badge);
  await page.unroute('**/v1/dashboard');

  // ---- the CSP is really enforced: injected inline script is blocked by the browser
  const blocked = await page.evaluate(() => {
    const el = document.createElement('script');
    el.textContent = 'window.__inline = 1';
    document.body.append(el);
    return new Promise((resolve) => setTimeout(() => resolve({ ran: window.__inline === 1, violations: window.__cspViolations.length }), 200));
  });
  check('CSP blocks injected inline script', !blocked.ran && blocked.violations >= 1, blocked);

  // ---- logout ends the session on the server
  const [logoutResponse] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/logout'), { timeout: STEP_TIMEOUT_MS }),
    page.click('[data-testid="logout"]'),
  ]);
  await page.waitForSelector('[data-testid="login-view"]:not([hidden])', { timeout: STEP_TIMEOUT_MS });
  check('logout calls POST /v1/logout', logoutResponse.status() === 200 && logoutResponse.request().method() === 'POST',
    `status ${logoutResponse.status()}`);
  const session = (await goodLogin.json()).session;
  const after401 = await request(cfg, cfg.admin_url + '/v1/whoami', { token: session });
  check('session refused after logout', after401.status === 401, `status ${after401.status}`);

  // ---- an API token works too, and logging out of it only forgets it
  const logoutCalls = [];
  page.on('request', (r) => { if (r.url().endsWith('/v1/logout')) logoutCalls.push(r.method()); });
  await page.fill('[data-testid="login-token"]', cfg.admin_token);
  await page.click('[data-testid="token-submit"]');
  await page.waitForSelector('[data-testid="dashboard-view"]:not([hidden])', { timeout: STEP_TIMEOUT_MS });
  const tokenWho = await page.textContent('[data-testid="who"]');
  check('login with the admin token', tokenWho.includes('admin'), tokenWho);
  check('token field cleared', (await page.inputValue('[data-testid="login-token"]')) === '');
  await page.click('[data-testid="logout"]');
  await page.waitForSelector('[data-testid="login-view"]:not([hidden])', { timeout: STEP_TIMEOUT_MS });
  check('token logout makes no server call', logoutCalls.length === 0, logoutCalls);
}

try {
  await main();
  report.ok = checks.length > 0 && checks.every((c) => c.ok);
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(report.ok ? 0 : 1);
} catch (e) {
  report.error = String(e && e.stack ? e.stack : e);
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(2);
}
