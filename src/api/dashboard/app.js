// Aegis live dashboard: login, then GET /v1/dashboard every 2 s, drawn as SVG.
//
// Security rules this file keeps (the page runs under script-src 'self' with no
// 'unsafe-inline' / 'unsafe-eval'):
// - Every string from the server is untrusted (model, signer and user names, incident
//   subjects): it reaches the page only through textContent or setAttribute of an
//   attribute we chose, never innerHTML, never a URL, never a style.
// - Every number from the server is checked to be finite before it is used.
// - The credential lives in one variable of this closure: not in localStorage,
//   sessionStorage, cookies or the URL. It is sent as `Authorization: Bearer` only
//   to this origin (fetch of relative paths, credentials omitted).
'use strict';

(() => {
  const POLL_MS = 2000;
  const REQUEST_TIMEOUT_MS = 10000;
  const STALE_MS = 3 * POLL_MS + 1000;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const AUTH_METHODS = ['token', 'session', 'jwt', 'mtls', 'password'];
  const MAX_MODELS = 48;
  const MAX_INCIDENTS = 50;
  const MAX_STAGES = 16;

  const state = {
    credential: null,     // session or API token; null when logged out
    kind: null,           // 'session' | 'token'
    timer: null,
    generation: 0,        // bumps at logout so late poll answers are dropped
    lastOk: 0,
  };

  // ------------------------------------------------------------ DOM helpers

  const $ = (id) => document.getElementById(id);

  function setAttrs(node, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') node.textContent = String(v);
      else node.setAttribute(k, String(v));
    }
    return node;
  }

  function h(tag, attrs, ...children) {
    const node = setAttrs(document.createElement(tag), attrs);
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function s(tag, attrs, ...children) {
    const node = setAttrs(document.createElementNS(SVG_NS, tag), attrs);
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function setText(id, value) { $(id).textContent = value; }

  // ------------------------------------------------------------ untrusted data

  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const str = (v, max = 200) => (typeof v === 'string' ? v.slice(0, max) : '');
  const obj = (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {});
  const list = (v, max) => (Array.isArray(v) ? v.slice(0, max) : []);
  const numbers = (v, n) => {
    const a = Array.isArray(v) ? v : [];
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.max(0, num(a[i]));
    return out;
  };

  const fmtInt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const fmtMs = (v) => {
    const x = num(v);
    if (x === 0) return '0';
    if (x < 1) return x.toFixed(2);
    if (x < 100) return x.toFixed(1);
    return fmtInt.format(x);
  };
  const fmtRate = (v) => { const x = num(v); return x < 10 ? x.toFixed(1) : fmtInt.format(x); };
  // A share (0..1) as a percentage, clamped: the server sends 5xx / requests of the last minute.
  const fmtPct = (v) => (Math.min(1, Math.max(0, num(v))) * 100).toFixed(1) + '%';
  const short = (hex, n = 16) => { const t = str(hex, 128); return t.length > n ? t.slice(0, n) + '…' : (t || '–'); };
  const grouped = (hex) => (short(hex, 24).match(/.{1,4}/g) || ['–']).join(' ');

  function fmtTime(value) {
    const t = str(value, 64);
    const d = new Date(t);
    if (!t || Number.isNaN(d.getTime())) return t || '–';
    if (d.getUTCFullYear() < 2000) return '–';  // the epoch: never happened
    return d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  }

  // A real time (the server sends the epoch or nothing for "never").
  function validTime(value) {
    const d = new Date(str(value, 64));
    return !Number.isNaN(d.getTime()) && d.getUTCFullYear() >= 2000;
  }

  function ago(value) {
    const d = new Date(str(value, 64));
    if (Number.isNaN(d.getTime())) return '';
    const sec = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
    if (sec < 60) return sec + ' s ago';
    if (sec < 3600) return Math.round(sec / 60) + ' min ago';
    return Math.round(sec / 3600) + ' h ago';
  }

  // ------------------------------------------------------------ HTTP

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (state.credential) headers.Authorization = 'Bearer ' + state.credential;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), REQUEST_TIMEOUT_MS);
    try {
      const r = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit', cache: 'no-store', redirect: 'error', referrerPolicy: 'no-referrer',
        signal: ctrl.signal,
      });
      let data = null;
      try { data = await r.json(); } catch (_) { data = null; }
      return { status: r.status, data: obj(data), retryAfter: r.headers.get('Retry-After') };
    } catch (e) {
      return { status: 0, data: {}, error: e && e.name === 'AbortError' ? 'the server did not answer in time' : 'the server cannot be reached' };
    } finally {
      clearTimeout(timer);
    }
  }

  function refusal(r, what) {
    const detail = str(r.data.error, 300);
    switch (r.status) {
      case 0: return 'Cannot reach the server: ' + r.error + '.';
      case 400: return 'The request was refused' + (detail ? ': ' + detail : '.');
      case 401: return what === 'token' ? 'That token was not accepted.' : 'Invalid user name, password or code.';
      case 403: return 'Not allowed' + (detail ? ': ' + detail : '.');
      case 429: {
        const wait = /^[0-9]{1,6}$/.test(r.retryAfter || '') ? ' (retry in ' + Math.ceil(Number(r.retryAfter) / 60) + ' min)' : '';
        return 'Too many failed attempts; try again later' + wait + '.';
      }
      default: return 'The server answered ' + r.status + (detail ? ': ' + detail : '.');
    }
  }

  // ------------------------------------------------------------ login / logout

  function showError(id, message) {
    const box = $(id);
    box.textContent = message || '';
    box.hidden = !message;
  }

  function busy(on) {
    for (const id of ['login-submit', 'token-submit']) $(id).disabled = on;
  }

  function showLogin(message) {
    $('dashboard-view').hidden = true;
    $('session-bar').hidden = true;
    $('login-view').hidden = false;
    showError('login-error', message);
    $('login-user').focus();
  }

  function showDashboard(who, role) {
    const bar = $('who');
    bar.replaceChildren(document.createTextNode(who), h('span', { class: 'role', text: role || 'unknown role' }));
    $('login-view').hidden = true;
    $('dashboard-view').hidden = false;
    $('session-bar').hidden = false;
    showError('login-error', '');
    showError('dashboard-error', '');
  }

  async function loginWithPassword(event) {
    event.preventDefault();
    const user = $('login-user').value.trim();
    const password = $('login-password').value;
    const totp = $('login-totp').value.trim();
    if (!user || !password || !/^[0-9]{6}$/.test(totp)) {
      showError('login-error', 'Enter your user name, password and the 6-digit code from your authenticator.');
      return;
    }
    busy(true);
    const r = await api('POST', '/v1/login', { user, password, totp });
    $('login-password').value = '';
    $('login-totp').value = '';
    busy(false);
    if (r.status !== 200 || typeof r.data.session !== 'string') {
      showError('login-error', refusal(r, 'login'));
      return;
    }
    await begin(r.data.session, 'session', str(r.data.user, 128) || user, str(r.data.role, 32));
  }

  async function loginWithToken(event) {
    event.preventDefault();
    const token = $('login-token').value.trim();
    $('login-token').value = '';
    // A header value must be visible ASCII; anything else cannot be a token.
    if (!/^[\x21-\x7e]{1,512}$/.test(token)) {
      showError('login-error', 'Paste the API token (it starts with "aegis_").');
      return;
    }
    busy(true);
    state.credential = token;
    const r = await api('GET', '/v1/whoami');
    busy(false);
    if (r.status !== 200) {
      state.credential = null;
      showError('login-error', refusal(r, 'token'));
      return;
    }
    const grants = list(r.data.grants, 8).map((g) => str(obj(g).role, 32) || str(g, 64)).filter(Boolean);
    await begin(token, 'token', str(r.data.principal, 128) || 'token', grants.join(', '));
  }

  async function begin(credential, kind, who, role) {
    state.credential = credential;
    state.kind = kind;
    state.generation++;
    const r = await api('GET', '/v1/dashboard');
    if (r.status !== 200) {
      const message = r.status === 403 ? 'This identity may not view the dashboard (admin or auditor role needed).'
                                       : refusal(r, kind);
      await endSession();
      showLogin(message);
      return;
    }
    showDashboard(who, role);
    render(r.data);
    schedule();
  }

  async function endSession() {
    const wasSession = state.kind === 'session' && state.credential;
    clearTimeout(state.timer);
    state.timer = null;
    state.generation++;
    if (wasSession) await api('POST', '/v1/logout');
    state.credential = null;
    state.kind = null;
  }

  async function logout() {
    $('logout').disabled = true;
    await endSession();
    $('logout').disabled = false;
    showLogin('');
  }

  // ------------------------------------------------------------ polling

  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    const generation = state.generation;
    const r = await api('GET', '/v1/dashboard');
    if (generation !== state.generation || !state.credential) return;
    if (r.status === 200) {
      showError('dashboard-error', '');
      render(r.data);
    } else if (r.status === 401 || r.status === 403) {
      state.credential = null;  // the session ended or was revoked: nothing to log out
      state.kind = null;
      state.generation++;
      showLogin(r.status === 401 ? 'Your session has ended. Please sign in again.' : refusal(r, 'session'));
      return;
    } else {
      showError('dashboard-error', refusal(r, state.kind) + ' Showing the last data received.');
    }
    updateLive();
    schedule();
  }

  function updateLive() {
    const live = $('live-status');
    const fresh = Date.now() - state.lastOk < STALE_MS;
    live.dataset.state = fresh ? 'live' : 'stale';
    live.textContent = fresh ? 'Live' : 'Stale';
  }

  // ------------------------------------------------------------ charts

  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  // Axes for a time chart: y grid lines with labels, x labels as minutes before now.
  function timeFrame(svg, box, yMax, n, bucketSeconds) {
    for (let i = 0; i <= 4; i++) {
      const y = box.y + box.h - (box.h * i) / 4;
      svg.append(s('line', { class: 'gridline', x1: box.x, x2: box.x + box.w, y1: y, y2: y }));
      const label = yMax * i / 4;
      svg.append(s('text', { x: box.x - 6, y: y + 4, 'text-anchor': 'end', text: Number.isInteger(label) ? label : label.toFixed(1) }));
    }
    const span = n * bucketSeconds;
    const steps = span >= 600 ? 5 : 4;
    for (let i = 0; i <= steps; i++) {
      const x = box.x + (box.w * i) / steps;
      const minutes = Math.round((span * (steps - i)) / steps / 60);
      svg.append(s('text', { x, y: box.y + box.h + 16, 'text-anchor': i === 0 ? 'start' : i === steps ? 'end' : 'middle',
        text: i === steps ? 'now' : '−' + minutes + ' min' }));
    }
  }

  function empty(svg, box, message) {
    svg.append(s('text', { class: 'empty', x: box.x + box.w / 2, y: box.y + box.h / 2, 'text-anchor': 'middle', text: message }));
  }

  // Allowed and denied requests as two series, each on its own scale: allowed
  // traffic as an area on top, denials as bars below. Stacked on one scale, a
  // handful of denials beside thousands of inferences would be one pixel high.
  function drawAccess(series, n, bucketSeconds) {
    const allowed = numbers(series.allowed, n);
    const denied = numbers(series.denied, n);
    const W = 760, H = 270;
    const top = { x: 40, y: 16, w: W - 52, h: 120 };
    const bottom = { x: 40, y: top.y + top.h + 26, w: W - 52, h: 70 };
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Allowed and denied requests over time, each on its own scale' });
    const peakAllowed = Math.max(0, ...allowed);
    const peakDenied = Math.max(0, ...denied);
    const yAllowed = niceMax(peakAllowed), yDenied = niceMax(peakDenied);
    for (const [box, yMax, label] of [[top, yAllowed, 'Allowed'], [bottom, yDenied, 'Denied']]) {
      for (let i = 0; i <= 2; i++) {
        const y = box.y + box.h - (box.h * i) / 2;
        svg.append(s('line', { class: 'gridline', x1: box.x, x2: box.x + box.w, y1: y, y2: y }));
        const v = yMax * i / 2;
        svg.append(s('text', { x: box.x - 6, y: y + 4, 'text-anchor': 'end', text: Number.isInteger(v) ? v : v.toFixed(1) }));
      }
      svg.append(s('text', { class: 'panel-label', x: box.x + 4, y: box.y - 4, text: label }));
    }
    const span = n * bucketSeconds;
    const steps = span >= 600 ? 5 : 4;
    for (let i = 0; i <= steps; i++) {
      const x = bottom.x + (bottom.w * i) / steps;
      const minutes = Math.round((span * (steps - i)) / steps / 60);
      svg.append(s('text', { x, y: bottom.y + bottom.h + 16, 'text-anchor': i === 0 ? 'start' : i === steps ? 'end' : 'middle',
        text: i === steps ? 'now' : '−' + minutes + ' min' }));
    }
    if (n < 2) { empty(svg, top, 'Waiting for data'); $('chart-access').replaceChildren(svg); return; }
    const X = (i) => top.x + (top.w * i) / (n - 1);
    const Y = (v) => top.y + top.h - (top.h * v) / yAllowed;
    const line = allowed.map((v, i) => `${X(i).toFixed(1)},${Y(v).toFixed(1)}`).join(' ');
    svg.append(
      s('polygon', { class: 'area-allowed', 'data-testid': 'access-allowed-area',
        points: `${line} ${X(n - 1).toFixed(1)},${Y(0)} ${X(0).toFixed(1)},${Y(0)}` }),
      s('polyline', { class: 'line-allowed', points: line }),
    );
    const slot = bottom.w / n;
    for (let i = 0; i < n; i++) {
      if (denied[i] <= 0) continue;
      const hgt = Math.max(1, (bottom.h * denied[i]) / yDenied);
      svg.append(s('rect', { class: 'bar-denied', 'data-testid': 'access-denied-bar', x: (bottom.x + i * slot).toFixed(1),
        y: (bottom.y + bottom.h - hgt).toFixed(1), width: Math.max(1, slot - 0.5).toFixed(1), height: hgt.toFixed(1) },
      s('title', { text: `${denied[i]} denied` })));
    }
    if (peakAllowed === 0) empty(svg, top, 'No allowed requests in the last 15 minutes');
    if (peakDenied === 0) empty(svg, bottom, 'No denials in the last 15 minutes');
    $('chart-access').replaceChildren(svg);
  }

  function drawAuthFailures(series, n, bucketSeconds) {
    const raw = obj(series.auth_failures);
    const methods = AUTH_METHODS.filter((m) => m in raw);
    const others = Object.keys(raw).filter((m) => !AUTH_METHODS.includes(m)).slice(0, 4);
    const all = [...methods, ...others];
    const data = all.map((m) => numbers(raw[m], n));
    const group = Math.max(1, Math.round(30 / Math.max(1, bucketSeconds)));
    const bars = Math.ceil(n / group);
    const sums = data.map((vals) => {
      const out = new Array(bars).fill(0);
      vals.forEach((v, i) => { out[Math.floor(i / group)] += v; });
      return out;
    });
    const totals = all.map((_, k) => sums[k].reduce((a, b) => a + b, 0));
    $('auth-legend').replaceChildren(...all.map((m, k) =>
      h('span', { class: 'key m-' + (AUTH_METHODS.includes(m) ? m : 'other') }, str(m, 24) + ' ', h('b', { text: fmtInt.format(totals[k]) }))));

    const W = 560, H = 210, box = { x: 36, y: 10, w: W - 46, h: H - 38 };
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Authentication failures by method' });
    let peak = 0;
    for (let b = 0; b < bars; b++) peak = Math.max(peak, sums.reduce((a, vals) => a + vals[b], 0));
    const yMax = niceMax(peak);
    timeFrame(svg, box, yMax, n, bucketSeconds);
    const slot = box.w / Math.max(1, bars);
    for (let b = 0; b < bars; b++) {
      let acc = 0;
      all.forEach((m, k) => {
        const v = sums[k][b];
        if (v <= 0) return;
        const y0 = box.y + box.h - (box.h * acc) / yMax;
        const hgt = (box.h * v) / yMax;
        acc += v;
        svg.append(s('rect', { class: 'bar-' + (AUTH_METHODS.includes(m) ? m : 'other'), x: (box.x + b * slot + 1.5).toFixed(1),
          y: (y0 - hgt).toFixed(1), width: Math.max(1, slot - 3).toFixed(1), height: hgt.toFixed(1) },
        s('title', { text: `${str(m, 24)}: ${v}` })));
      });
    }
    if (peak === 0) empty(svg, box, 'No authentication failures');
    $('chart-auth').replaceChildren(svg);
  }

  function drawStages(stagesIn) {
    const stages = list(stagesIn, MAX_STAGES).map(obj);
    const row = 30, W = 560, left = 78, right = 96;
    const H = Math.max(60, stages.length * row + 12);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Latency per stage' });
    const peak = niceMax(Math.max(0, ...stages.map((st) => Math.max(num(st.p95_ms), num(st.p50_ms)))));
    const width = W - left - right;
    for (let i = 0; i <= 4; i++) {
      const x = left + (width * i) / 4;
      svg.append(s('line', { class: 'gridline', x1: x, x2: x, y1: 4, y2: H - 6 }));
    }
    stages.forEach((st, i) => {
      const y = 8 + i * row;
      const p50 = num(st.p50_ms), p95 = Math.max(p50, num(st.p95_ms));
      svg.append(
        s('text', { class: 'stage-label', x: left - 10, y: y + 15, 'text-anchor': 'end', text: str(st.stage, 24) }),
        s('rect', { class: 'bar-p95', x: left, y: y + 2, width: ((width * p95) / peak).toFixed(1), height: 18, rx: 3 }),
        s('rect', { class: 'bar-p50', x: left, y: y + 6, width: ((width * p50) / peak).toFixed(1), height: 10, rx: 2 }),
        s('text', { class: 'value', x: W - right + 8, y: y + 15, text: `${fmtMs(p50)} / ${fmtMs(p95)}` }),
      );
    });
    if (!stages.length) empty(svg, { x: 0, y: 0, w: W, h: H }, 'No stage timings yet');
    $('chart-stages').replaceChildren(svg);
  }

  function sparkline(values, peak) {
    const W = 240, H = 56, n = values.length;
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true' });
    svg.append(s('line', { class: 'gridline', x1: 0, x2: W, y1: H - 1, y2: H - 1, stroke: '#1c2640' }));
    if (n < 2) return svg;
    const yMax = niceMax(peak);
    const pts = values.map((v, i) => `${((W * i) / (n - 1)).toFixed(1)},${(H - 2 - ((H - 6) * v) / yMax).toFixed(1)}`).join(' ');
    svg.append(s('polygon', { class: 'spark-area', points: `${pts} ${W},${H - 1} 0,${H - 1}` }),
      s('polyline', { class: 'spark-line', points: pts }));
    return svg;
  }

  const stat = (value, label) => h('span', { class: 'stat' }, h('b', { text: value }), h('small', { text: label }));

  function drawModels(modelsIn, n) {
    const models = list(modelsIn, MAX_MODELS).map(obj);
    const cards = models.map((m) => {
      const req = numbers(m.requests, n);
      const total = req.reduce((a, b) => a + b, 0);
      return h('div', { class: 'model-card', 'data-testid': 'model-card', 'data-model': str(m.name, 128) },
        h('div', { class: 'title' }, h('span', { text: str(m.name, 128) }), h('span', { class: 'pill', text: 'v' + str(m.version, 64) })),
        h('div', { class: 'stats' },
          stat(fmtRate(m.requests_per_second), 'req/s'),
          stat(fmtMs(m.latency_p50_ms), 'p50 ms'),
          stat(fmtMs(m.latency_p95_ms), 'p95 ms'),
          stat(fmtPct(m.error_rate), 'errors'),
          stat(fmtInt.format(total), '15 min')),
        sparkline(req, Math.max(...req, 0)));
    });
    if (!cards.length) cards.push(h('div', { class: 'empty-note', text: 'No models are being served.' }));
    $('model-multiples').replaceChildren(...cards);

    const rows = models.map((m) => {
      const signer = str(m.signer, 128);
      return h('tr', { 'data-testid': 'model-row' },
        h('td', { text: str(m.name, 128) }),
        h('td', { text: str(m.version, 64) }),
        h('td', {}, h('span', { class: 'pill', text: str(m.format, 32) || '–' })),
        h('td', { class: signer ? '' : 'unsigned', text: signer || 'unsigned' }),
        h('td', { class: 'mono', text: short(m.fingerprint, 16) }),
        h('td', { class: 'num', text: fmtRate(m.requests_per_second) }),
        h('td', { class: 'num', text: fmtMs(m.latency_p50_ms) }),
        h('td', { class: 'num', text: fmtMs(m.latency_p95_ms) }),
        h('td', { class: num(m.error_rate) > 0 ? 'num error-rate' : 'num', 'data-testid': 'model-error-rate', text: fmtPct(m.error_rate) }));
    });
    $('models-body').replaceChildren(...rows);
  }

  function drawIncidents(incidentsIn) {
    const inc = obj(incidentsIn);
    const open = num(inc.open);
    const count = $('incidents-open');
    count.textContent = fmtInt.format(open);
    setText('kpi-incidents', fmtInt.format(open));
    count.classList.toggle('alarm', open > 0);
    $('kpi-incidents-box').classList.toggle('alarm', open > 0);
    // Each incident with its timeline: first seen, the actions taken, last seen.
    const items = list(inc.items, MAX_INCIDENTS).map(obj).map((it) => {
      const steps = [h('li', { text: fmtTime(it.first_seen) + '  opened' })];
      list(it.actions, 32).map(obj).forEach((a) => {
        steps.push(h('li', { 'data-testid': 'incident-action', title: str(a.outcome, 256),
          text: fmtTime(a.at) + '  ' + str(a.action, 32) + ': ' + str(a.outcome, 256) }));
      });
      if (num(it.count) > 1) steps.push(h('li', { text: fmtTime(it.last_seen) + '  seen ' + fmtInt.format(num(it.count)) + ' times' }));
      return h('li', { 'data-testid': 'incident', 'data-kind': str(it.kind, 48) },
        h('span', { class: 'kind', text: str(it.kind, 48).replace(/_/g, ' ') }),
        h('span', { class: 'severity', text: str(it.severity, 16) }),
        h('span', { class: 'subject', text: str(it.subject, 128) }),
        h('span', { class: 'since', title: fmtTime(it.first_seen),
          text: str(it.state, 16) + ' · since ' + (ago(it.first_seen) || fmtTime(it.first_seen)) }),
        h('ol', { class: 'timeline', 'data-testid': 'incident-timeline' }, ...steps));
    });
    if (!items.length) items.push(h('li', { class: 'none', text: 'No open incidents.' }));
    $('incident-list').replaceChildren(...items);
  }

  // The most drifted features of each screened model version (server-bounded:
  // 8 per version); values are data, shown through textContent only.
  function drawDrift(driftIn) {
    const rows = list(driftIn, 256).map(obj).map((d) => {
      const psi = num(d.psi);
      return h('tr', { 'data-testid': 'drift-row', class: psi > 0.25 ? 'alarm' : '' },
        h('td', { text: str(d.model, 128) }),
        h('td', { text: str(d.version, 64) }),
        h('td', { text: str(d.input, 128) }),
        h('td', { class: 'num', text: fmtInt.format(num(d.feature)) }),
        h('td', { class: 'num', 'data-testid': 'drift-psi', text: psi.toFixed(3) }),
        h('td', { class: 'num', text: fmtInt.format(num(d.flagged)) }));
    });
    if (!rows.length) {
      rows.push(h('tr', {}, h('td', { colspan: '6', class: 'empty-note', text: 'No drift measured yet (a version needs a baseline and 100 screened rows).' })));
    }
    $('drift-body').replaceChildren(...rows);
  }

  function drawAudit(auditIn) {
    const a = obj(auditIn);
    const v = obj(a.verification);
    setText('audit-tree-size', fmtInt.format(num(a.tree_size)));
    setText('audit-signed-size', fmtInt.format(num(a.signed_tree_size)));
    const pending = Math.max(0, num(a.tree_size) - num(a.signed_tree_size));
    setText('audit-pending', pending === 1 ? '1 event' : fmtInt.format(pending) + ' events');
    setText('audit-root', short(a.root, 16));
    $('audit-root').title = str(a.root, 128);
    setText('audit-signed-at', fmtTime(a.signed_at));
    setText('audit-key', grouped(a.key_fingerprint));
    $('audit-key').title = str(a.key_fingerprint, 128);
    // The name this replica's log signs (docs/scale-out.md); a single server's names none.
    setText('audit-replica', str(a.replica, 63) || 'none (single server)');
    // Three states, never green by default: verified, not run yet (no check time),
    // or failed.
    const ok = v.ok === true;
    const ran = validTime(v.checked_at);
    const status = ok ? 'ok' : ran ? 'failed' : 'pending';
    const badge = $('audit-badge');
    badge.textContent = { ok: 'VERIFIED', failed: 'FAILED', pending: 'NOT VERIFIED YET' }[status];
    badge.className = 'badge ' + status;
    badge.dataset.status = status;
    setText('audit-verified', ran ? `${fmtInt.format(num(v.events))} events · ${fmtTime(v.checked_at)}` : 'not run yet');
    const detail = str(v.detail, 500);
    $('audit-detail').textContent = detail;
    $('audit-detail').hidden = ok || !detail;
  }

  function drawTotals(t) {
    const totals = obj(t);
    setText('kpi-requests', fmtInt.format(num(totals.requests)));
    setText('kpi-allowed', fmtInt.format(num(totals.allowed)));
    setText('kpi-denied', fmtInt.format(num(totals.denied)));
    setText('kpi-auth-failures', fmtInt.format(num(totals.auth_failures)));
    setText('kpi-models', fmtInt.format(num(totals.models_loaded)));
  }

  // The build the server runs: version and revision, beside the brand.
  function drawBuild(buildIn) {
    const b = obj(buildIn);
    const version = str(b.version, 32), revision = str(b.revision, 64);
    const badge = $('version-badge');
    badge.textContent = version ? 'v' + version + (revision ? ' · ' + revision : '') : '';
    badge.title = 'Aegis version and source revision of this build';
    badge.hidden = !version;
  }

  // Who was refused, from where and why: every field is client-influenced text.
  function drawDenials(denialsIn) {
    const rows = list(denialsIn, 50).map(obj).map((d) => h('tr', { 'data-testid': 'denial-row' },
      h('td', { title: str(d.time, 64), text: fmtTime(d.time) }),
      h('td', { 'data-testid': 'denial-principal', title: str(d.principal, 256), text: str(d.principal, 256) }),
      h('td', { class: 'mono', 'data-testid': 'denial-remote', text: str(d.remote, 128) }),
      h('td', { text: str(d.action, 64) }),
      h('td', { title: str(d.resource, 256), text: str(d.resource, 256) }),
      h('td', { class: 'num', text: String(num(d.status)) }),
      h('td', { class: 'why', 'data-testid': 'denial-reason', text: str(d.reason, 256) || '–' })));
    if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: '7', class: 'empty-note', text: 'No denials since the server started.' })));
    $('denials-body').replaceChildren(...rows);
  }

  // Models refused for their bytes or signature, and what the scanner found.
  function drawIntegrity(integrityIn) {
    const it = obj(integrityIn);
    const failures = num(it.failures), findings = num(it.scan_findings);
    const loads = list(it.load_failures, 64).map(obj);
    const loadTotal = loads.reduce((a, l) => a + num(l.count), 0);
    setText('integrity-failures', fmtInt.format(failures));
    setText('scan-findings', fmtInt.format(findings));
    setText('load-failures', fmtInt.format(loadTotal));
    $('integrity-failures-box').classList.toggle('alarm', failures > 0);
    $('scan-findings-box').classList.toggle('alarm', findings > 0);
    $('load-failures-box').classList.toggle('alarm', loadTotal > 0);
    const items = list(it.recent, 20).map(obj).map((d) => h('li', { 'data-testid': 'integrity-item' },
      h('span', { class: 'when', text: fmtTime(d.time) }),
      h('b', { text: str(d.resource, 256) }), ' ',
      h('span', { class: 'muted', text: 'by ' + (str(d.principal, 256) || '–') + ' from ' + (str(d.remote, 128) || '–') + ': ' }),
      h('span', { 'data-testid': 'integrity-reason', text: str(d.reason, 256) })));
    for (const l of loads) {
      items.push(h('li', { 'data-testid': 'load-failure' }, h('b', { text: str(l.model, 128) }),
        h('span', { class: 'muted', text: ' failed to load ' + fmtInt.format(num(l.count)) + ' time(s)' })));
    }
    if (!items.length) items.push(h('li', { class: 'none', text: 'No integrity or scanner failures since the server started.' }));
    $('integrity-list').replaceChildren(...items);
  }

  // API tokens that deserve an operator's look. Names are chosen by whoever issued them.
  function drawCredentials(credentialsIn) {
    const c = obj(credentialsIn);
    const since = str(c.since, 64);
    setText('credentials-summary', fmtInt.format(num(c.active)) + ' active of ' + fmtInt.format(num(c.tokens)) + ' tokens');
    const breakGlass = list(c.break_glass, 100).map(obj);
    const alert = $('break-glass');
    alert.textContent = breakGlass.length
      ? 'The break-glass admin token from aegis init is still active (' + breakGlass.map((t) => str(t.name, 64) + ' ' + str(t.id, 32)).join(', ') +
        '). Revoke it once a person can log in as admin: aegis token revoke ID.'
      : '';
    alert.hidden = !breakGlass.length;
    const item = (t) => h('li', { 'data-testid': 'credential' },
      h('span', { class: 'mono', text: str(t.id, 32) }), ' ',
      h('b', { 'data-testid': 'credential-name', text: str(t.name, 64) }),
      h('span', { class: 'meta', text: [str(t.role, 32) + (str(t.models, 128) && str(t.models, 128) !== '*' ? ' on ' + str(t.models, 128) : ''),
        'by ' + (str(t.created_by, 128) || '–'),
        str(t.expires_at, 64) ? 'expires ' + fmtTime(t.expires_at) : 'no expiry',
        str(t.last_used, 64) ? 'used ' + (ago(t.last_used) || fmtTime(t.last_used)) : 'not used'].join(' · ') }));
    const groups = [
      ['no_expiry', 'Without expiry', true],
      ['expired', 'Expired (revoke to tidy up)', false],
      ['unused', 'Not used since the server started' + (validTime(since) ? ' (' + fmtTime(since) + ')' : ''), false],
    ].map(([key, title, warn]) => {
      const tokens = list(c[key], 100).map(obj);
      return h('section', { class: 'cred-group' + (warn && tokens.length ? ' warn' : ''), 'data-testid': 'credentials-' + key },
        h('h3', { text: title + ' · ' + tokens.length }),
        tokens.length ? h('ul', {}, ...tokens.map(item)) : h('p', { class: 'none', text: 'None.' }));
    });
    $('credential-groups').replaceChildren(...groups);
  }

  // A configuration the server itself reports as a security finding.
  function drawRuntime(runtimeIn) {
    const finding = str(obj(runtimeIn).finding, 512);
    $('runtime-finding').textContent = finding;
    $('runtime-finding').hidden = !finding;
  }

  function render(data) {
    const series = obj(data.series);
    const time = Array.isArray(series.time) ? series.time : [];
    const n = Math.min(time.length, 720);  // the contract keeps 180; never draw unbounded input
    const bucketSeconds = Math.max(1, num(data.bucket_seconds) || 5);
    const allowed = numbers(series.allowed, n).reduce((a, b) => a + b, 0);
    const denied = numbers(series.denied, n).reduce((a, b) => a + b, 0);
    setText('access-allowed', fmtInt.format(allowed));
    setText('access-denied', fmtInt.format(denied));
    drawTotals(data.totals);
    drawAccess(series, n, bucketSeconds);
    drawAuthFailures(series, n, bucketSeconds);
    drawStages(data.stages);
    drawModels(data.models, n);
    drawIncidents(data.incidents);
    drawDrift(data.drift);
    drawAudit(data.audit);
    drawRuntime(data.runtime);
    drawBuild(data.build);
    drawDenials(data.denials);
    drawIntegrity(data.integrity);
    drawCredentials(data.credentials);
    state.lastOk = Date.now();
    setText('last-updated', 'Updated ' + new Date().toLocaleTimeString('en-GB', { hour12: false }));
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    updateLive();
  }

  // ------------------------------------------------------------ start

  function start() {
    $('login-form').addEventListener('submit', loginWithPassword);
    $('token-form').addEventListener('submit', loginWithToken);
    $('logout').addEventListener('click', logout);
    // A page that lost its credential (tab restore) starts at the login form.
    showLogin('');
    document.body.dataset.ready = 'true';
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
