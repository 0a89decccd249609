'use strict';
// A reference peer for smtpcheck's benchmarks (issue 6): POST
// /api/v1/Agents/CustomerService/TestSmtpServer written the way a Node.js developer would,
// on Fastify and Nodemailer, at their best: no logger, one process, a fresh SMTP connection
// per test (no pooling: each request is a real test).
//
// usage: node server.js PORT      env: PEER_USER, PEER_PASSWORD (Basic credentials, default
//        bench / bench-password), PEER_RECIPIENT (default smtp-test@superoffice.com, as
//        smtpcheck's smtp.test_recipient), PEER_TIMEOUT_MS (whole-test deadline, default 5000)
const crypto = require('node:crypto');
const net = require('node:net');
const os = require('node:os');
const fastify = require('fastify');
const nodemailer = require('nodemailer');

const port = Number(process.argv[2] || 8080);
const user = process.env.PEER_USER || 'bench';
const password = process.env.PEER_PASSWORD || 'bench-password';
const recipient = process.env.PEER_RECIPIENT || 'smtp-test@superoffice.com';
const timeoutMs = Number(process.env.PEER_TIMEOUT_MS || 5000);

// --- Basic authentication, compared in constant time (digests have equal lengths) ---------
const sha256 = (s) => crypto.createHash('sha256').update(s, 'utf8').digest();
const userDigest = sha256(user);
const passwordDigest = sha256(password);
function authorized(header) {
  if (typeof header !== 'string') return false;
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return false;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const userOk = crypto.timingSafeEqual(sha256(decoded.slice(0, colon)), userDigest);
  const passwordOk = crypto.timingSafeEqual(sha256(decoded.slice(colon + 1)), passwordDigest);
  return userOk && passwordOk;
}

// --- From: one RFC 5321 mailbox ---------------------------------------------------------------
const atext = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\u0080-\\uFFFF-]";
const label = '[A-Za-z0-9\\u0080-\\uFFFF](?:[A-Za-z0-9\\u0080-\\uFFFF-]{0,61}[A-Za-z0-9\\u0080-\\uFFFF])?';
const mailboxRe = new RegExp(
  `^(?:${atext}+(?:\\.${atext}+)*|"(?:[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\[\\x20-\\x7e])*")` +
  `@(?:${label}(?:\\.${label})*|\\[[0-9A-Fa-f:.]+\\]|\\[IPv6:[0-9A-Fa-f:.]+\\])$`, 'u');
const validMailbox = (s) => typeof s === 'string' && s.length <= 254 && mailboxRe.test(s);

// --- SmtpUri (WHATWG URL) into Nodemailer transport options -------------------------------
const schemes = { 'smtp:': { port: 25, secure: false }, 'smtp+starttls:': { port: 587, secure: false, requireTLS: true },
                  'smtps:': { port: 465, secure: true } };
function transportOptions(smtpUri) {
  if (typeof smtpUri !== 'string' || smtpUri === '') throw new Error('SmtpUri is missing');
  let url;
  try { url = new URL(smtpUri); } catch { throw new Error('SmtpUri is not a valid URI'); }
  const scheme = schemes[url.protocol.toLowerCase()];
  if (!scheme) throw new Error(`SmtpUri scheme ${url.protocol} is not supported (smtp, smtp+starttls, smtps)`);
  if (url.search || url.hash) throw new Error('SmtpUri may not have a query or fragment');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new Error('SmtpUri has no host');
  const options = {
    host, port: url.port ? Number(url.port) : scheme.port, secure: scheme.secure,
    requireTLS: Boolean(scheme.requireTLS), pool: false, getSocket: noDelaySocket,
    connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs, dnsTimeout: timeoutMs,
    name: decodeURIComponent(url.pathname.replace(/^\//, '')) || os.hostname(),
    tls: { minVersion: 'TLSv1.2', ...(net.isIP(host) ? {} : { servername: host }) },
  };
  if (url.username) {
    let name = decodeURIComponent(url.username);
    const auth = /;auth=([^;]*)$/i.exec(name);
    if (auth) { options.authMethod = auth[1].toUpperCase(); name = name.slice(0, auth.index); }
    options.auth = { user: name, pass: decodeURIComponent(url.password) };
    // Like smtpcheck: credentials never travel over an unencrypted connection.
    if (!scheme.secure) options.requireTLS = true;
  }
  return options;
}

// Nodemailer's own socket leaves Nagle on, and its message body goes out in several writes:
// each test then waits out the receiver's delayed ACK (about 40 ms). A Node developer who
// profiled the peer would hand Nodemailer a socket with TCP_NODELAY, as here (Nodemailer still
// runs STARTTLS or the implicit TLS handshake over it).
function noDelaySocket(options, callback) {
  const socket = net.connect({ host: options.host, port: options.port, noDelay: true });
  const timer = setTimeout(() => socket.destroy(new Error(`Connection timeout after ${timeoutMs} ms`)), timeoutMs);
  const failed = (e) => { clearTimeout(timer); callback(e); };
  socket.once('error', failed);
  socket.once('connect', () => {
    clearTimeout(timer);
    socket.removeListener('error', failed);
    callback(null, { connection: socket });
  });
}

// Property names are case-insensitive; a string "true"/"false" is a boolean too.
function field(body, name) {
  if (body === null || typeof body !== 'object') return null;
  const lower = name.toLowerCase();
  for (const key of Object.keys(body)) if (key.toLowerCase() === lower) return body[key];
  return null;
}

async function testSmtp(body) {
  const from = field(body, 'From');
  const storedPassword = field(body, 'UseStoredPassword');
  let options;
  try { options = transportOptions(field(body, 'SmtpUri')); } catch (e) { return failure(e.message); }
  if (!validMailbox(from)) return failure('From is not one mailbox');
  if (storedPassword === true || String(storedPassword).toLowerCase() === 'true')
    return failure('No password is stored for this user, host and port');

  const transport = nodemailer.createTransport(options);
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => { transport.close(); reject(new Error(`The test took longer than ${timeoutMs} ms`)); }, timeoutMs);
  });
  try {
    await Promise.race([deadline, transport.sendMail({
      envelope: { from, to: [recipient] },
      from, to: recipient,
      subject: 'SMTP settings test',
      text: `This is an automatic test of the SMTP settings for ${from}.\r\n`,
      headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' },
    })]);
    return { Success: true, ErrorMessage: null, TableRight: null, FieldProperties: {} };
  } catch (e) {
    return failure(e.response ? `${e.message}` : e.message);
  } finally {
    clearTimeout(timer);
    transport.close();
  }
}
const failure = (message) => ({ Success: false, ErrorMessage: message, TableRight: null, FieldProperties: {} });

const app = fastify({ logger: false });
app.addContentTypeParser('text/json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'ignore'));
const resultSchema = {
  type: 'object',
  properties: {
    Success: { type: 'boolean' }, ErrorMessage: { type: ['string', 'null'] },
    TableRight: { type: 'null' }, FieldProperties: { type: 'object', additionalProperties: true },
  },
};
app.post('/api/v1/Agents/CustomerService/TestSmtpServer', {
  schema: { response: { 200: resultSchema } },
  onRequest: async (request, reply) => {
    if (!authorized(request.headers.authorization)) {
      reply.code(401).header('WWW-Authenticate', 'Basic realm="smtpcheck-peer", charset="UTF-8"')
        .send({ Error: true, ErrorType: 'Unauthorized', ErrorMessage: 'Authentication required', ErrorSource: 'auth' });
      return reply;
    }
  },
}, async (request) => testSmtp(request.body));

app.listen({ host: '127.0.0.1', port, backlog: 4096 }).catch((e) => { console.error(e); process.exit(1); });
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => app.close().then(() => process.exit(0)));
