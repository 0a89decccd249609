// The admin page (SPEC 2.8): log in with the session flow (SPEC 2.2), compose an SmtpUri from
// the form, run Diagnose and show its report. Everything the server or an SMTP server said is
// put in the page as text (textContent, never HTML): a hostile greeting stays words.
// The SMTP password lives only in its input and in the body of the one request that uses it:
// never in a URL, a cookie or the page's storage.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  // The page is served at {base_path}/: the API is beside it, /login and /logout at the root.
  const here = (path) => new URL(path, document.baseURI).pathname;
  const DIAGNOSE = here('api/v1/smtpcheck/Diagnose');
  const DESCRIBE = here('api/v1/Agents/CustomerService/TestSmtpServer');
  const PORTS = { 'smtp': 25, 'smtp+starttls': 587, 'smtps': 465 };
  const LANGUAGES = ['en', 'da', 'de', 'fr', 'nb', 'nl', 'sv'];

  function cookie(name) {
    for (const part of document.cookie.split(';')) {
      const i = part.indexOf('=');
      if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
    }
    return '';
  }

  function headers(extra) {
    // X-Requested-With: a 401 then comes without the Basic challenge that makes the browser
    // ask for a password in a dialog of its own.
    return Object.assign({ 'Accept': 'application/json', 'SO-Language': $('language').value,
                           'X-Requested-With': 'XMLHttpRequest', 'X-XSRF-TOKEN': cookie('XSRF-TOKEN') }, extra || {});
  }

  // An element with attributes and children; strings become text nodes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v; else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
    return e;
  }

  async function errorText(r, fallback) {
    try {
      const doc = await r.json();
      if (doc && typeof doc.ErrorMessage === 'string' && doc.ErrorMessage) return doc.ErrorMessage;
    } catch (e) { /* not JSON */ }
    return fallback + ' (HTTP ' + r.status + ')';
  }

  function show(section) {
    $('login-section').hidden = section !== 'login';
    $('test-section').hidden = section !== 'test';
    $('who').hidden = section !== 'test';
    if (section !== 'test') $('result').hidden = true;
  }

  function showLogin(message) {
    show('login');
    const err = $('login-error');
    err.textContent = message || '';
    err.hidden = !message;
    $('login-user').focus();
  }

  function showTest(user) {
    show('test');
    $('who-name').textContent = user ? 'Logged in as ' + user : 'Logged in';
    $('host').focus();
  }

  async function login(event) {
    event.preventDefault();
    const user = $('login-user').value;
    const password = $('login-password');
    $('login-button').disabled = true;
    try {
      const r = await fetch('/login', {
        method: 'POST', credentials: 'same-origin', cache: 'no-store',
        headers: headers({ 'Content-Type': 'application/json' }),
        body: JSON.stringify({ Username: user, Password: password.value }),
      });
      password.value = '';
      if (r.status === 204) showTest(user);
      else showLogin(await errorText(r, 'The login failed'));
    } catch (e) {
      showLogin('The server could not be reached.');
    } finally {
      $('login-button').disabled = false;
    }
  }

  async function logout() {
    try { await fetch('/logout', { method: 'POST', credentials: 'same-origin' }); } catch (e) { /* gone anyway */ }
    $('smtp-password').value = '';
    showLogin('');
  }

  // smtp+starttls://user:password@host:port, each part percent-encoded; null and a message
  // when the form cannot make one.
  function smtpUri() {
    const scheme = $('tls').value;
    let host = $('host').value.trim();
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if (!host) return [null, 'Enter the server.'];
    // An IPv6 literal goes in brackets; a name or IPv4 address is percent-encoded (the server
    // turns an international name into punycode).
    host = host.includes(':') ? '[' + host + ']' : encodeURIComponent(host);
    const port = $('port').value.trim();
    if (port && !(/^[0-9]{1,5}$/.test(port) && +port >= 1 && +port <= 65535)) return [null, 'The port is a number from 1 to 65535.'];
    const user = $('smtp-user').value;
    const usePassword = !$('stored').checked && $('smtp-password').value !== '';
    let userinfo = '';
    if (user) userinfo = encodeURIComponent(user) + (usePassword ? ':' + encodeURIComponent($('smtp-password').value) : '') + '@';
    return [scheme + '://' + userinfo + host + (port ? ':' + port : ''), null];
  }

  async function runTest(event) {
    event.preventDefault();
    const [uri, problem] = smtpUri();
    const status = $('status');
    if (!uri) { status.textContent = problem; return; }
    const body = JSON.stringify({ SmtpUri: uri, From: $('from').value.trim(), UseStoredPassword: $('stored').checked });
    $('run').disabled = true;
    status.textContent = 'Testing…';
    try {
      const r = await fetch(DIAGNOSE, {
        method: 'POST', credentials: 'same-origin', cache: 'no-store',
        headers: headers({ 'Content-Type': 'application/json' }), body,
      });
      if (r.status === 401) { showLogin(await errorText(r, 'Log in again')); return; }
      if (r.status !== 200) { status.textContent = await errorText(r, 'The test could not run'); return; }
      const report = await r.json();
      status.textContent = '';
      render(report);
    } catch (e) {
      status.textContent = 'The server could not be reached.';
    } finally {
      $('run').disabled = false;
    }
  }

  const ms = (v) => (typeof v === 'number' ? (v < 10 ? v.toFixed(1) : Math.round(v).toString()) + ' ms' : '');

  function facts(rows) {
    const dl = el('dl', { class: 'facts' });
    for (const [name, value] of rows) {
      if (value === null || value === undefined || value === '') continue;
      dl.append(el('dt', {}, name), el('dd', {}, value));
    }
    return dl;
  }

  function section(title, ...content) {
    return el('section', { class: 'part' }, el('h3', {}, title), ...content);
  }

  function daysUntil(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return '';
    const days = Math.floor((t - Date.now()) / 86400000);
    if (t < Date.now()) return ' (expired ' + -days + ' day' + (days === -1 ? '' : 's') + ' ago)';
    return days < 1 ? ' (in under a day)' : ' (in ' + days + ' day' + (days === 1 ? '' : 's') + ')';
  }

  function timeline(report) {
    const list = el('ol', { class: 'timeline' });
    const timings = Array.isArray(report.Timings) ? report.Timings : [];
    const total = report.TotalMs || timings.reduce((a, t) => a + (t.Ms || 0), 0) || 1;
    for (const t of timings) {
      const failed = !report.Success && t.Phase === report.Phase;
      const bar = el('span', { class: 'bar' });
      bar.style.width = Math.max(1, Math.min(100, (100 * (t.Ms || 0)) / total)) + '%';
      list.append(el('li', { class: failed ? 'failed' : '' },
                     el('span', {}, el('span', { class: 'phase' }, t.Phase), failed ? el('span', { class: 'mark' }, ' ✗ failed') : null),
                     el('span', { class: 'track' }, bar), el('span', { class: 'ms' }, ms(t.Ms))));
    }
    return section('Phases', list, el('p', { class: 'total' }, 'Total: ' + ms(report.TotalMs)));
  }

  function server(s) {
    if (!s) return null;
    const parts = [facts([['Host', s.Host + (s.Port ? ':' + s.Port : '')], ['Address', s.Address],
                          ['Greeting', s.Greeting],
                          ['Extensions', Array.isArray(s.Extensions) ? s.Extensions.join(', ') : '']])];
    if (Array.isArray(s.Tried) && s.Tried.length) {
      const rows = s.Tried.map((t) => el('tr', {}, el('td', {}, t.Address), el('td', {}, t.Outcome)));
      parts.push(el('table', { class: 'tried' },
                    el('caption', {}, 'Addresses tried'),
                    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Address'), el('th', { scope: 'col' }, 'Outcome'))),
                    el('tbody', {}, ...rows)));
    }
    return section('Server', ...parts);
  }

  function tls(t) {
    if (!t) return section('TLS', el('p', {}, 'No TLS was used.'));
    const c = t.Certificate || {};
    return section('TLS', facts([
      ['Mode', t.Mode], ['Version', t.Version], ['Cipher', t.Cipher],
      ['Verified', t.Verified ? 'yes' : 'no' + (t.VerifyError ? ': ' + t.VerifyError : '')],
      ['Certificate', c.Subject], ['Issuer', c.Issuer],
      ['Names', Array.isArray(c.SubjectAltNames) ? c.SubjectAltNames.join(', ') : ''],
      ['Valid until', c.NotAfter ? c.NotAfter + daysUntil(c.NotAfter) : ''],
    ]));
  }

  function transcript(lines) {
    if (!Array.isArray(lines) || !lines.length) return null;
    const rows = lines.map((l) => el('tr', { class: l.Dir === 'C' ? 'client' : 'server' },
                                    el('td', { class: 'ms' }, ms(l.Ms)), el('td', {}, l.Dir), el('td', { class: 'line' }, l.Line)));
    return section('Transcript',
                   el('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Transcript' },
                      el('table', { class: 'transcript' },
                         el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Time'), el('th', { scope: 'col' }, 'Who'),
                                            el('th', { scope: 'col' }, 'Line'))),
                         el('tbody', {}, ...rows))));
  }

  function render(report) {
    const outcome = $('outcome');
    outcome.replaceChildren();
    outcome.className = 'outcome ' + (report.Success ? 'ok' : 'fail');
    if (report.Success) {
      outcome.append(el('p', { class: 'verdict' }, '✓ Success: the server accepted the test message.'));
    } else {
      outcome.append(el('p', { class: 'verdict' }, '✗ ' + (report.ErrorMessage || 'The test failed.')));
      if (report.Hint) outcome.append(el('p', { class: 'hint' }, report.Hint));
      outcome.append(facts([['Phase', report.Phase], ['Error code', report.ErrorCode],
                            ['Reply', report.Reply ? [report.Reply.Code, report.Reply.EnhancedCode, report.Reply.Text]
                              .filter((x) => x !== null && x !== undefined && x !== '').join(' ') : '']]));
    }
    const details = $('details');
    details.replaceChildren();
    if (Array.isArray(report.Warnings) && report.Warnings.length)
      details.append(section('Warnings', el('ul', { class: 'warnings' },
                                            ...report.Warnings.map((w) => el('li', {}, w.Message, ' ', el('code', {}, w.Code))))));
    if (Array.isArray(report.Suggestions) && report.Suggestions.length)
      details.append(section('Suggestions', el('ul', {},
                                               ...report.Suggestions.map((s) => el('li', {}, el('code', {}, s.SmtpUri), ': ', s.Why)))));
    details.append(timeline(report));
    const srv = server(report.Server);
    if (srv) details.append(srv);
    details.append(tls(report.Tls));
    if (report.Auth) details.append(section('AUTH', facts([['Mechanism', report.Auth.Mechanism],
                                                         ['Accepted', report.Auth.Succeeded ? 'yes' : 'no']])));
    const tr = transcript(report.Transcript);
    if (tr) details.append(tr);
    $('result').hidden = false;
    $('result-heading').focus();
  }

  function start() {
    const preferred = (navigator.languages || [navigator.language || 'en'])
      .map((l) => String(l).toLowerCase().split('-')[0]).map((l) => (l === 'no' || l === 'nn' ? 'nb' : l))
      .find((l) => LANGUAGES.includes(l));
    if (preferred) $('language').value = preferred;
    $('login-form').addEventListener('submit', login);
    $('test-form').addEventListener('submit', runTest);
    $('logout').addEventListener('click', logout);
    $('tls').addEventListener('change', () => { $('port').placeholder = String(PORTS[$('tls').value]); });
    $('stored').addEventListener('change', () => {
      $('smtp-password').disabled = $('stored').checked;
      if ($('stored').checked) $('smtp-password').value = '';
    });
    // A session from before (its cookies are still there): ask whether it is still good.
    if (!cookie('XSRF-TOKEN')) { showLogin(''); return; }
    fetch(DESCRIBE, { credentials: 'same-origin', cache: 'no-store', headers: headers() })
      .then((r) => (r.status === 200 ? showTest('') : showLogin('')))
      .catch(() => showLogin('The server could not be reached.'));
  }

  start();
})();
