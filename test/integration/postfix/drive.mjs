#!/usr/bin/env node
// drive.mjs -- drive SMTP sessions with known outcomes into the private Postfix started by postfix-instance.sh,
// from several loopback source addresses, and write the ground truth (truth.json).
//
//   node drive.mjs --workdir DIR --base-port N --out truth.json [--only ID,ID]
//
// The truth comes from what each client was made to do (protocol range, offered suites, commands) and what it
// saw (negotiated protocol and suite, errors, 250 replies) -- never from the log. The log is read for two other
// purposes only: each session's log lines are kept in truth.json (for diagnosing a mismatch later), and a small
// reference classifier of Postfix's wording re-reads those lines as a self-check of this driver, so that a
// session which did not do what the plan says fails here instead of being blamed on tlscensus.
//
// Outbound TLS is negotiated by Postfix's own smtp client, whose view we can only pin by configuration
// (postfix-instance.sh): smtp-tls13 offers only TLSv1.3 (OpenSSL's default suite order puts
// TLS_AES_256_GCM_SHA384 first and Postfix's server honours the client's order), smtp-tls12 offers only
// TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256, smtp-tls10 offers only TLSv1 to the >=TLSv1.2 "strict" listener.
//
// Exit status: 0 = every session behaved as planned; 1 = some did not (details on stderr); 2 = setup error.
import { execFileSync } from 'node:child_process';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

// ------------------------------------------------------------------ arguments ----
function parseArgs(argv) {
  const out = { only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--workdir') out.workdir = v;
    else if (a === '--base-port') out.basePort = Number(v);
    else if (a === '--out') out.out = v;
    else if (a === '--only') out.only = new Set(v.split(','));
    else fail(`unknown argument ${a}`);
    i++;
  }
  if (!out.workdir || !out.basePort || !out.out) fail('usage: drive.mjs --workdir DIR --base-port N --out truth.json');
  return out;
}
function fail(msg) {
  process.stderr.write(`[drive] ERROR: ${msg}\n`);
  process.exit(2);
}
const say = (msg) => process.stderr.write(`[drive] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const args = parseArgs(process.argv.slice(2));
const WORKDIR = args.workdir;
const CONF = path.join(WORKDIR, 'etc');
const MAILLOG = path.join(WORKDIR, 'log', 'maillog');
const PORTS = { open: args.basePort, strict: args.basePort + 1, relay: args.basePort + 2, smtps: args.basePort + 3 };
// The syslog_name of each listener (master.cf), i.e. the program Postfix logs for it.
const SERVICE = { open: 'smtpd', strict: 'strict/smtpd', relay: 'relayin/smtpd', smtps: 'smtps/smtpd' };

// IANA names of the suites Postfix negotiates on its own (RFC 8446 §B.4, RFC 5289); the Node clients report
// theirs themselves (getCipher().standardName).
const IANA = {
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  'ECDHE-RSA-AES128-GCM-SHA256': 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
};

// ---------------------------------------------------------------- SMTP client ----
// A minimal SMTP client: one reply at a time, no PIPELINING, STARTTLS upgrade in place.
class Smtp {
  constructor(id) {
    this.id = id;
    this.transcript = [];
    this.buf = '';
    this.replies = [];
    this.partial = null;
    this.waiter = null;
    this.closed = false;
    this.onData = (chunk) => this.feed(chunk);
    this.onClose = () => {
      this.closed = true;
      this.wake();
    };
  }

  static connect(id, { ip, port, implicitTls }) {
    const c = new Smtp(id);
    return new Promise((resolve, reject) => {
      const opts = { host: '127.0.0.1', port, localAddress: ip };
      const sock = implicitTls
        ? tls.connect({ ...opts, ...implicitTls, rejectUnauthorized: false })
        : net.connect(opts);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`connect timeout to ${port}`));
      }, 10_000);
      sock.once(implicitTls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        c.attach(sock);
        resolve(c);
      });
      sock.once('error', (e) => {
        clearTimeout(timer);
        sock.destroy();
        reject(e);
      });
    });
  }

  attach(sock) {
    this.sock = sock;
    this.closed = false;
    sock.on('data', this.onData);
    sock.on('close', this.onClose);
    sock.on('error', (e) => this.transcript.push(`!! ${e.code ?? ''} ${e.message}`.trim()));
  }

  detach() {
    this.sock.off('data', this.onData);
    this.sock.off('close', this.onClose);
  }

  feed(chunk) {
    this.buf += chunk.toString('latin1');
    let i = this.buf.indexOf('\r\n');
    while (i >= 0) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      this.transcript.push(`S: ${line}`);
      this.partial = [...(this.partial ?? []), line];
      if (/^\d{3}(?: |$)/.test(line)) {
        this.replies.push({ code: Number(line.slice(0, 3)), lines: this.partial });
        this.partial = null;
      }
      i = this.buf.indexOf('\r\n');
    }
    this.wake();
  }

  /** Sleep until data/close arrives or `ms` pass. */
  pause(ms) {
    return new Promise((r) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        r();
      }, ms);
      this.waiter = () => {
        clearTimeout(timer);
        r();
      };
    });
  }

  wake() {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w();
    }
  }

  async reply(timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length === 0) {
      if (this.closed) throw new Error('connection closed by server');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timeout waiting for a reply');
      await this.pause(left);
    }
    return this.replies.shift();
  }

  send(line) {
    this.transcript.push(`C: ${line}`);
    this.sock.write(`${line}\r\n`);
  }

  async cmd(line, want) {
    this.send(line);
    const r = await this.reply();
    if (r.code !== want) throw new Error(`"${line}" got ${r.lines.join(' / ')} (wanted ${want})`);
    return r;
  }

  async greeting() {
    const r = await this.reply();
    if (r.code !== 220) throw new Error(`greeting ${r.lines.join(' / ')}`);
  }

  /** STARTTLS and the TLS handshake. Resolves to what the client saw; rejects with the TLS error. */
  async starttls(tlsOpts) {
    await this.cmd('STARTTLS', 220);
    this.detach();
    const raw = this.sock;
    const t = tls.connect({ socket: raw, rejectUnauthorized: false, ...tlsOpts });
    await new Promise((resolve, reject) => {
      t.once('secureConnect', resolve);
      t.once('error', (e) => {
        this.sock = raw;
        reject(e);
      });
    });
    this.attach(t);
    return tlsInfo(t);
  }

  /** One mail transaction; returns true when the server accepted the message (250 after the final dot). */
  async message(n, rcpt = 'user@test.local') {
    await this.cmd(`MAIL FROM:<${this.id}-${n}@client.test>`, 250);
    await this.cmd(`RCPT TO:<${rcpt}>`, 250);
    await this.cmd('DATA', 354);
    this.transcript.push('C: <message>');
    this.sock.write(
      `Subject: tlscensus ${this.id} #${n}\r\nMessage-Id: <${this.id}-${n}@client.test>\r\n\r\n` +
        `integration test message ${this.id} #${n}\r\n.\r\n`,
    );
    const r = await this.reply();
    this.transcript.push(`   (message ${n}: ${r.code})`);
    return r.code === 250;
  }

  async quit() {
    await this.cmd('QUIT', 221);
    await this.end();
  }

  /** Half-close and wait (briefly) for the server to close too. */
  async end(waitMs = 3000) {
    this.sock.end();
    const deadline = Date.now() + waitMs;
    while (!this.closed && Date.now() < deadline) {
      await this.pause(100);
    }
    this.sock.destroy();
  }

  /** Wait until the server closes the connection (after it rejected something). */
  async waitClosed(waitMs = 5000) {
    const deadline = Date.now() + waitMs;
    while (!this.closed && Date.now() < deadline) {
      await this.pause(100);
    }
    const closed = this.closed;
    this.sock.destroy();
    return closed;
  }
}

function tlsInfo(t) {
  const c = t.getCipher();
  return { protocol: t.getProtocol(), cipher: c.name, iana: c.standardName ?? null };
}

// ------------------------------------------------------------- the sessions ----
// Each step drives one or more connections and returns the events it caused, built from the plan and checked
// against what the client saw. An event is one connection as one side of Postfix sees it:
//   { direction, service, ip, outcome: tls|failed|plaintext|noCommand, protocol, cipher, iana, reason, messages }
const LOCALHOST = '127.0.0.1';
const NAMED = '127.0.0.9'; // gets "127.0.0.9 mx9.peer.test" in /etc/hosts for the run (run.sh)

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** EHLO, STARTTLS with `tlsOpts`, EHLO, `messages` mails, QUIT: one TLS event with the expected suite. */
function tlsSession({ ip, listener = 'open', protocol, cipher, tlsOpts, messages = 1, ehlo }) {
  return async (s) => {
    const c = await Smtp.connect(s.id, { ip, port: PORTS[listener] });
    await c.greeting();
    await c.cmd(`EHLO ${ehlo ?? `${s.id}.client.test`}`, 250);
    const seen = await c.starttls(tlsOpts);
    s.client.push(seen);
    check(seen.protocol === protocol && seen.cipher === cipher, `client negotiated ${seen.protocol} ${seen.cipher}`);
    await c.cmd(`EHLO ${ehlo ?? `${s.id}.client.test`}`, 250);
    let accepted = 0;
    for (let n = 1; n <= messages; n++) accepted += (await c.message(n)) ? 1 : 0;
    check(accepted === messages, `server accepted ${accepted}/${messages} messages`);
    await c.quit();
    s.transcripts.push(c.transcript);
    return [
      {
        direction: 'inbound',
        service: SERVICE[listener],
        ip,
        outcome: 'tls',
        protocol,
        cipher,
        iana: seen.iana,
        messages,
      },
    ];
  };
}

/** Implicit TLS (smtps): the handshake comes first, then EHLO and the mail. */
function smtpsSession({ ip, protocol, cipher, tlsOpts, messages = 1 }) {
  return async (s) => {
    const c = await Smtp.connect(s.id, { ip, port: PORTS.smtps, implicitTls: tlsOpts });
    const seen = tlsInfo(c.sock);
    s.client.push(seen);
    check(seen.protocol === protocol && seen.cipher === cipher, `client negotiated ${seen.protocol} ${seen.cipher}`);
    await c.greeting();
    await c.cmd(`EHLO ${s.id}.client.test`, 250);
    let accepted = 0;
    for (let n = 1; n <= messages; n++) accepted += (await c.message(n)) ? 1 : 0;
    check(accepted === messages, `server accepted ${accepted}/${messages} messages`);
    await c.quit();
    s.transcripts.push(c.transcript);
    return [
      { direction: 'inbound', service: SERVICE.smtps, ip, outcome: 'tls', protocol, cipher, iana: seen.iana, messages },
    ];
  };
}

/** Plaintext: EHLO (STARTTLS offered but not used), `messages` mails (0: a NOOP instead), QUIT. */
async function plainConnection(s, { ip, listener = 'open', messages, rcpt }) {
  const c = await Smtp.connect(s.id, { ip, port: PORTS[listener] });
  await c.greeting();
  const ehlo = await c.cmd(`EHLO ${s.id}.client.test`, 250);
  if (listener !== 'relay')
    check(
      ehlo.lines.some((l) => /STARTTLS/.test(l)),
      'server did not offer STARTTLS',
    );
  let accepted = 0;
  if (messages === 0) await c.cmd('NOOP', 250);
  for (let n = 1; n <= messages; n++) accepted += (await c.message(n, rcpt)) ? 1 : 0;
  check(accepted === messages, `server accepted ${accepted}/${messages} messages`);
  await c.quit();
  s.transcripts.push(c.transcript);
  s.client.push({ tls: false, messagesAccepted: accepted });
  return { direction: 'inbound', service: SERVICE[listener], ip, outcome: 'plaintext', messages };
}
function plainSession(opts) {
  return async (s) => [await plainConnection(s, opts)];
}

/** STARTTLS whose handshake must fail with `reason` (what the client was made to offer makes it fail). */
async function failingStarttls(s, { ip, listener, tlsOpts, reason, clientError }) {
  const c = await Smtp.connect(s.id, { ip, port: PORTS[listener] });
  await c.greeting();
  await c.cmd(`EHLO ${s.id}.client.test`, 250);
  let err = null;
  try {
    const seen = await c.starttls(tlsOpts);
    s.client.push(seen);
  } catch (e) {
    err = e;
  }
  check(err, 'handshake unexpectedly succeeded');
  s.client.push({ tls: false, error: err.code ?? err.message });
  check(clientError.test(err.code ?? ''), `client error ${err.code} ${err.message}`);
  c.transcript.push(`!! ${err.code} ${err.message.split('\n')[0]}`);
  c.sock.destroy();
  s.transcripts.push(c.transcript);
  return { direction: 'inbound', service: SERVICE[listener], ip, outcome: 'failed', reason, messages: 0 };
}

/** Plaintext relay submission to the "relay" listener; Postfix then delivers it with postfix/smtp. */
function relaySession({ domain, flushAfterMs = 0, events }) {
  return async (s) => {
    const submit = await plainConnection(s, { ip: LOCALHOST, listener: 'relay', messages: 1, rcpt: `user@${domain}` });
    if (flushAfterMs) {
      await sleep(flushAfterMs);
      execFileSync('postqueue', ['-c', CONF, '-f']);
    }
    return [submit, ...events];
  };
}

const tlsOut = (protocol, cipher, listener = 'open') => [
  {
    direction: 'outbound',
    service: 'smtp',
    ip: LOCALHOST,
    outcome: 'tls',
    protocol,
    cipher,
    iana: IANA[cipher],
    messages: 1,
  },
  {
    direction: 'inbound',
    service: SERVICE[listener],
    ip: LOCALHOST,
    outcome: 'tls',
    protocol,
    cipher,
    iana: IANA[cipher],
    messages: 1,
  },
];

const SESSIONS = [
  // --- inbound TLS, one suite pinned per session; the client reports what it negotiated ---
  {
    id: 'in-t13-aes256',
    what: 'TLSv1.3 TLS_AES_256_GCM_SHA384 (STARTTLS, open)',
    run: tlsSession({
      ip: '127.0.0.2',
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_256_GCM_SHA384',
      tlsOpts: { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384' },
    }),
  },
  {
    id: 'in-t13-chacha20',
    what: 'TLSv1.3 TLS_CHACHA20_POLY1305_SHA256 (STARTTLS, open)',
    run: tlsSession({
      ip: '127.0.0.2',
      protocol: 'TLSv1.3',
      cipher: 'TLS_CHACHA20_POLY1305_SHA256',
      tlsOpts: { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: 'TLS_CHACHA20_POLY1305_SHA256' },
    }),
  },
  {
    id: 'in-t13-aes128',
    what: 'TLSv1.3 TLS_AES_128_GCM_SHA256 from the named peer (STARTTLS, open)',
    run: tlsSession({
      ip: NAMED,
      ehlo: 'mx9.peer.test',
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
      tlsOpts: { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' },
    }),
  },
  {
    id: 'in-t12-ecdhe',
    what: 'TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384 (ECDHE key exchange)',
    run: tlsSession({
      ip: '127.0.0.3',
      protocol: 'TLSv1.2',
      cipher: 'ECDHE-RSA-AES256-GCM-SHA384',
      tlsOpts: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' },
    }),
  },
  {
    id: 'in-t12-dhe',
    what: 'TLSv1.2 DHE-RSA-AES128-GCM-SHA256 (finite-field DHE) from the named peer',
    run: tlsSession({
      ip: NAMED,
      ehlo: 'mx9.peer.test',
      protocol: 'TLSv1.2',
      cipher: 'DHE-RSA-AES128-GCM-SHA256',
      tlsOpts: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'DHE-RSA-AES128-GCM-SHA256' },
    }),
  },
  {
    id: 'in-t12-rsa',
    what: 'TLSv1.2 AES128-SHA (static RSA key exchange)',
    run: tlsSession({
      ip: '127.0.0.3',
      protocol: 'TLSv1.2',
      cipher: 'AES128-SHA',
      tlsOpts: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' },
    }),
  },
  {
    id: 'in-t11',
    what: 'TLSv1.1 ECDHE-RSA-AES256-SHA (client at @SECLEVEL=0)',
    run: tlsSession({
      ip: '127.0.0.4',
      protocol: 'TLSv1.1',
      cipher: 'ECDHE-RSA-AES256-SHA',
      tlsOpts: { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'ECDHE-RSA-AES256-SHA@SECLEVEL=0' },
    }),
  },
  {
    id: 'in-t10',
    what: 'TLSv1 ECDHE-RSA-AES128-SHA (client at @SECLEVEL=0)',
    run: tlsSession({
      ip: '127.0.0.4',
      protocol: 'TLSv1',
      cipher: 'ECDHE-RSA-AES128-SHA',
      tlsOpts: { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'ECDHE-RSA-AES128-SHA@SECLEVEL=0' },
    }),
  },
  {
    id: 'in-strict-t12',
    what: 'TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 on the strict (>=TLSv1.2) listener',
    run: tlsSession({
      ip: '127.0.0.3',
      listener: 'strict',
      protocol: 'TLSv1.2',
      cipher: 'ECDHE-RSA-AES128-GCM-SHA256',
      tlsOpts: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' },
    }),
  },
  {
    id: 'in-smtps-t13',
    what: 'implicit TLS (smtps) TLSv1.3 TLS_AES_256_GCM_SHA384 from the named peer',
    run: smtpsSession({
      ip: NAMED,
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_256_GCM_SHA384',
      tlsOpts: { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384' },
    }),
  },
  // --- inbound plaintext ---
  {
    id: 'in-plain-1',
    what: 'plaintext, 1 message (STARTTLS offered, not used)',
    run: plainSession({ ip: '127.0.0.5', messages: 1 }),
  },
  {
    id: 'in-plain-2',
    what: 'plaintext again from the same peer, 2 messages in one session',
    run: plainSession({ ip: '127.0.0.5', messages: 2 }),
  },
  {
    id: 'in-plain-nomail',
    what: 'plaintext on the strict listener: EHLO, NOOP, QUIT (commands, no mail)',
    run: plainSession({ ip: '127.0.0.6', listener: 'strict', messages: 0 }),
  },
  {
    id: 'in-silent',
    what: 'connect, read the banner, close without a command (no-command session)',
    run: async (s) => {
      const c = await Smtp.connect(s.id, { ip: '127.0.0.6', port: PORTS.open });
      await c.greeting();
      await c.end();
      s.transcripts.push(c.transcript);
      s.client.push({ tls: false, commands: 0 });
      return [{ direction: 'inbound', service: SERVICE.open, ip: '127.0.0.6', outcome: 'noCommand', messages: 0 }];
    },
  },
  // --- inbound handshake failures ---
  {
    id: 'in-fail-wrongversion',
    what: 'STARTTLS, then plaintext bytes instead of a ClientHello',
    run: async (s) => {
      const c = await Smtp.connect(s.id, { ip: '127.0.0.6', port: PORTS.open });
      await c.greeting();
      await c.cmd(`EHLO ${s.id}.client.test`, 250);
      await c.cmd('STARTTLS', 220);
      c.send(`EHLO ${s.id}.client.test`);
      const closed = await c.waitClosed();
      s.transcripts.push(c.transcript);
      s.client.push({ tls: false, serverClosed: closed });
      check(closed, 'server did not close the connection');
      return [
        {
          direction: 'inbound',
          service: SERVICE.open,
          ip: '127.0.0.6',
          outcome: 'failed',
          reason: 'wrong-version-number',
          messages: 0,
        },
      ];
    },
  },
  {
    id: 'in-fail-nocipher-fallback',
    what: 'ECDSA-only suite vs the RSA-only server, then plaintext on a new connection',
    run: async (s) => {
      const failed = await failingStarttls(s, {
        ip: '127.0.0.7',
        listener: 'open',
        reason: 'no-shared-cipher',
        tlsOpts: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' },
        clientError: /HANDSHAKE_FAILURE/,
      });
      await sleep(300); // keep the two connections' log lines in order
      return [failed, await plainConnection(s, { ip: '127.0.0.7', messages: 1 })];
    },
  },
  {
    id: 'in-fail-protocol',
    what: 'TLSv1-only client (@SECLEVEL=0) on the strict (>=TLSv1.2) listener',
    run: async (s) => [
      await failingStarttls(s, {
        ip: '127.0.0.8',
        listener: 'strict',
        reason: 'unsupported-protocol',
        tlsOpts: { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' },
        clientError: /PROTOCOL_VERSION/,
      }),
    ],
  },
  {
    id: 'in-fail-drop',
    what: 'STARTTLS, read "220 Ready", close without a ClientHello',
    run: async (s) => {
      const c = await Smtp.connect(s.id, { ip: '127.0.0.8', port: PORTS.open });
      await c.greeting();
      await c.cmd(`EHLO ${s.id}.client.test`, 250);
      await c.cmd('STARTTLS', 220);
      await c.end();
      s.transcripts.push(c.transcript);
      s.client.push({ tls: false, abandoned: true });
      return [
        {
          direction: 'inbound',
          service: SERVICE.open,
          ip: '127.0.0.8',
          outcome: 'failed',
          reason: 'lost-connection',
          messages: 0,
        },
      ];
    },
  },
  {
    id: 'in-fail-protocol-named',
    what: 'TLSv1.1-only client (@SECLEVEL=0) from the named peer on the strict listener',
    run: async (s) => [
      await failingStarttls(s, {
        ip: NAMED,
        listener: 'strict',
        reason: 'unsupported-protocol',
        tlsOpts: { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
        clientError: /PROTOCOL_VERSION/,
      }),
    ],
  },
  // --- outbound, through the relay listener: 1 plaintext submission + the smtp client's connection(s) + the
  //     receiving listener's side of each (all from/to 127.0.0.1) ---
  {
    id: 'out-tls13',
    what: 'relay to tls13.relay.test: smtp-tls13 (>=TLSv1.3) -> open',
    run: relaySession({ domain: 'tls13.relay.test', events: tlsOut('TLSv1.3', 'TLS_AES_256_GCM_SHA384') }),
  },
  {
    id: 'out-tls12',
    what: 'relay to tls12.relay.test: smtp-tls12 (TLSv1.2, ECDHE-RSA-AES128-GCM-SHA256 only) -> open',
    run: relaySession({ domain: 'tls12.relay.test', events: tlsOut('TLSv1.2', 'ECDHE-RSA-AES128-GCM-SHA256') }),
  },
  {
    id: 'out-tls10-fallback',
    what: 'relay to tls10strict.relay.test: smtp-tls10 (<=TLSv1) -> strict fails, plaintext retry',
    run: relaySession({
      domain: 'tls10strict.relay.test',
      flushAfterMs: 2500,
      events: [
        {
          direction: 'outbound',
          service: 'smtp',
          ip: LOCALHOST,
          outcome: 'failed',
          reason: 'unsupported-protocol',
          messages: 0,
        },
        {
          direction: 'inbound',
          service: SERVICE.strict,
          ip: LOCALHOST,
          outcome: 'failed',
          reason: 'unsupported-protocol',
          messages: 0,
        },
        { direction: 'outbound', service: 'smtp', ip: LOCALHOST, outcome: 'plaintext', messages: 1 },
        { direction: 'inbound', service: SERVICE.strict, ip: LOCALHOST, outcome: 'plaintext', messages: 1 },
      ],
    }),
  },
  {
    id: 'out-plain',
    what: 'relay to notls.relay.test: smtp-notls (smtp_tls_security_level=none) -> open',
    run: relaySession({
      domain: 'notls.relay.test',
      events: [
        { direction: 'outbound', service: 'smtp', ip: LOCALHOST, outcome: 'plaintext', messages: 1 },
        { direction: 'inbound', service: SERVICE.open, ip: LOCALHOST, outcome: 'plaintext', messages: 1 },
      ],
    }),
  },
];

// ----------------------------------------------------------- log and queue ----
const logSize = () => {
  try {
    return fs.statSync(MAILLOG).size;
  } catch {
    return 0;
  }
};
function queueBusy() {
  const walk = (d) => {
    let ents;
    try {
      ents = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return false;
    }
    return ents.some((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : true));
  };
  return ['incoming', 'active', 'deferred', 'maildrop'].some((q) => walk(path.join(WORKDIR, 'spool', q)));
}
/** Until the queue is empty and the log has not grown for 0.6 s (at most 30 s; one flush half-way). */
async function waitQuiet() {
  let last = logSize();
  let stable = 0;
  for (let i = 1; i <= 150; i++) {
    await sleep(200);
    const cur = logSize();
    const busy = queueBusy();
    if (cur === last && !busy) {
      if (++stable >= 3) return true;
    } else stable = 0;
    last = cur;
    if (i === 75 && busy) execFileSync('postqueue', ['-c', CONF, '-f']);
  }
  say('warning: log/queue did not settle within 30 s');
  return false;
}
function readSlice(start, end) {
  const fd = fs.openSync(MAILLOG, 'r');
  const buf = Buffer.alloc(end - start);
  fs.readSync(fd, buf, 0, buf.length, start);
  fs.closeSync(fd);
  return buf.toString('utf8').split('\n').filter(Boolean);
}

// ---------------------------------------------------- reference self-check ----
// Re-reads one session's log lines with Postfix's wording (the postfix-recipe.sh classifier, extended with
// peers, reasons and message counts). Used only to prove the driver did what the plan says.
function reasonOf(text) {
  if (/unsupported protocol|alert protocol version/.test(text)) return 'unsupported-protocol';
  if (/no shared cipher/.test(text)) return 'no-shared-cipher';
  if (/wrong version number/.test(text)) return 'wrong-version-number';
  if (/lost connection/.test(text)) return 'lost-connection';
  return 'other';
}
function classify(lines) {
  const conns = [];
  const inOpen = new Map();
  const outOpen = new Map();
  const PFX = /^\S+\s+\d+\s+[\d:]+\s+\S+\s+postfix\/([\w/-]+)\[(\d+)\]: (.*)$/;
  for (const line of lines) {
    const m = PFX.exec(line);
    if (!m) continue;
    const [, prog, pid, msg] = m;
    const key = `${prog}[${pid}]`;
    if (prog.endsWith('smtpd')) {
      const conn = /^connect from ([^[\s]+)\[([\d.]+)\]/.exec(msg);
      if (conn) {
        const c = { direction: 'inbound', service: prog, host: conn[1], ip: conn[2], outcome: null, messages: 0 };
        inOpen.set(key, c);
        conns.push(c);
        continue;
      }
      const c = inOpen.get(key);
      if (!c) continue;
      const hs = /^\S+ TLS connection established from \S+: (\S+) with cipher (\S+)/.exec(msg);
      const err = /^SSL_accept error from \S+: (.*)$/.exec(msg);
      const disc = /^disconnect from .* commands=(\d+)/.exec(msg);
      if (hs) Object.assign(c, { outcome: 'tls', protocol: hs[1], cipher: hs[2] });
      else if (err) {
        c.outcome = 'failed';
        if (err[1] === 'lost connection') c.reason = 'lost-connection';
      } else if (/^warning: TLS library problem: /.test(msg) && c.outcome === 'failed' && !c.reason) {
        c.reason = reasonOf(msg);
      } else if (/^[0-9A-F]+: client=/.test(msg)) c.messages++;
      else if (disc) {
        if (!c.outcome) c.outcome = disc[1] === '0' ? 'noCommand' : 'plaintext';
        inOpen.delete(key);
      }
    } else if (prog === 'smtp') {
      const out = { direction: 'outbound', service: 'smtp', messages: 0 };
      const hs = /^\S+ TLS connection established to ([^[\s]+)\[([\d.]+)\]:\d+: (\S+) with cipher (\S+)/.exec(msg);
      const err = /^SSL_connect error to ([^[\s]+)\[([\d.]+)\]/.exec(msg);
      const sent = /^[0-9A-F]+: to=<[^>]*>, .*relay=([^[\s]+)\[([\d.]+)\]:\d+, .*status=sent /.exec(msg);
      const open = outOpen.get(key);
      if (hs) {
        const c = { ...out, host: hs[1], ip: hs[2], outcome: 'tls', protocol: hs[3], cipher: hs[4] };
        outOpen.set(key, c);
        conns.push(c);
      } else if (err) {
        const c = { ...out, host: err[1], ip: err[2], outcome: 'failed' };
        outOpen.set(key, c);
        conns.push(c);
      } else if (/^warning: TLS library problem: /.test(msg)) {
        if (open && open.outcome === 'failed' && !open.reason) open.reason = reasonOf(msg);
      } else if (sent) {
        if (open && open.outcome === 'tls') open.messages++;
        else {
          const c = { ...out, host: sent[1], ip: sent[2], outcome: 'plaintext', messages: 1 };
          outOpen.set(key, c);
          conns.push(c);
        }
      }
    }
  }
  return conns;
}
const canon = (e) =>
  [
    e.direction,
    e.service,
    `${e.host ?? 'unknown'}[${e.ip}]`,
    e.outcome,
    e.protocol,
    e.cipher,
    e.reason,
    `messages=${e.messages}`,
  ]
    .filter((x) => x !== undefined && x !== null)
    .join(' ');

// ------------------------------------------------------------------- peers ----
/** The name Postfix will log for a client: reverse lookup, confirmed forward (smtpd_peer.c). null = unknown. */
async function verifiedName(ip) {
  try {
    const { hostname } = await dns.lookupService(ip, 25);
    if (!hostname || hostname === ip) return null;
    const addrs = await dns.lookup(hostname, { all: true, family: 4 });
    return addrs.some((a) => a.address === ip) ? hostname : null;
  } catch {
    return null;
  }
}

// --------------------------------------------------------- expected report ----
function expectedReport(events) {
  const view = (dir) => {
    const ev = events.filter((e) => e.direction === dir);
    const totals = { sessions: ev.length, tls: 0, failed: 0, plaintext: 0, noCommand: 0, messages: 0 };
    const spread = new Map();
    const failures = new Map();
    const plaintext = new Map();
    for (const e of ev) {
      totals[e.outcome]++;
      totals.messages += e.messages;
      const peer = { host: e.host, ip: e.ip };
      if (e.outcome === 'tls') {
        const k = `${e.protocol} ${e.cipher}`;
        const row = spread.get(k) ?? {
          protocol: e.protocol,
          cipher: e.cipher,
          iana: e.iana,
          count: 0,
          unknownClients: 0,
          ips: new Set(),
        };
        row.count++;
        if (e.host === null) row.unknownClients++;
        row.ips.add(e.ip);
        spread.set(k, row);
      } else if (e.outcome === 'failed') {
        const row = failures.get(e.ip) ?? { peer, count: 0, reasons: {} };
        row.count++;
        row.reasons[e.reason] = (row.reasons[e.reason] ?? 0) + 1;
        failures.set(e.ip, row);
      } else if (e.outcome === 'plaintext') {
        const row = plaintext.get(e.ip) ?? { peer, sessions: 0, messages: 0 };
        row.sessions++;
        row.messages += e.messages;
        plaintext.set(e.ip, row);
      }
    }
    return {
      totals,
      spread: [...spread.values()]
        .map(({ ips, ...r }) => ({ ...r, peers: ips.size }))
        .sort((a, b) => b.count - a.count || a.protocol.localeCompare(b.protocol) || a.cipher.localeCompare(b.cipher)),
      failures: [...failures.values()].sort((a, b) => b.count - a.count || a.peer.ip.localeCompare(b.peer.ip)),
      plaintext: [...plaintext.values()].sort((a, b) => b.sessions - a.sessions || a.peer.ip.localeCompare(b.peer.ip)),
    };
  };
  return { schema: 'tlscensus/report@1', inbound: view('inbound'), outbound: view('outbound') };
}

// -------------------------------------------------------------------- main ----
async function main() {
  const t0 = Date.now();
  if (!fs.existsSync(MAILLOG)) fail(`no maillog at ${MAILLOG}: is the instance running?`);
  const ips = [
    ...new Set([
      '127.0.0.1',
      '127.0.0.2',
      '127.0.0.3',
      '127.0.0.4',
      '127.0.0.5',
      '127.0.0.6',
      '127.0.0.7',
      '127.0.0.8',
      NAMED,
    ]),
  ];
  const peers = {};
  for (const ip of ips) peers[ip] = { host: await verifiedName(ip) };
  if (peers[NAMED].host !== 'mx9.peer.test') fail(`${NAMED} does not resolve to mx9.peer.test (add it to /etc/hosts)`);
  for (const ip of ips) say(`peer ${ip} -> ${peers[ip].host ?? 'unknown'}`);
  // The outbound nexthop is [localhost]:port (smtp_host_lookup = native), so that is its logged name.
  const localhostAddrs = await dns.lookup('localhost', { all: true, family: 4 }).catch(() => []);
  if (!localhostAddrs.some((a) => a.address === LOCALHOST))
    fail('"localhost" does not resolve to 127.0.0.1 (/etc/hosts)');
  const OUTBOUND_HOST = 'localhost';

  await waitQuiet();
  const sessions = [];
  const events = [];
  let failed = 0;
  for (const step of SESSIONS) {
    if (args.only && !args.only.has(step.id)) continue;
    const s = { id: step.id, client: [], transcripts: [] };
    const start = logSize();
    const t = Date.now();
    let evs = [];
    const problems = [];
    try {
      evs = await step.run(s);
    } catch (e) {
      problems.push(`driver: ${e.message.split('\n')[0]}`);
    }
    await waitQuiet();
    const end = logSize();
    const logLines = readSlice(start, end);
    for (const e of evs) e.host = e.direction === 'outbound' ? OUTBOUND_HOST : peers[e.ip].host;
    // self-check: the log shows exactly these connections
    const want = evs.map(canon).sort();
    const got = classify(logLines).map(canon).sort();
    if (evs.length && want.join('\n') !== got.join('\n')) {
      problems.push(`log self-check: expected [${want.join(' | ')}] but the log shows [${got.join(' | ')}]`);
    }
    if (problems.length) failed++;
    say(`${problems.length ? 'FAIL' : 'ok  '} ${step.id.padEnd(26)} ${Date.now() - t} ms  ${problems.join('; ')}`);
    sessions.push({
      id: step.id,
      what: step.what,
      events: evs.map(({ host, ...e }) => ({ ...e, peer: { host, ip: e.ip } })),
      client: s.client,
      transcripts: s.transcripts,
      elapsedMs: Date.now() - t,
      logLines,
      check: problems.length ? { ok: false, problems } : { ok: true },
    });
    events.push(...evs);
  }

  const expected = expectedReport(events);
  const truth = {
    schema: 'tlscensus-it/postfix-truth@1',
    generator: 'test/integration/postfix/drive.mjs',
    generatedAt: new Date().toISOString(),
    year: new Date().getFullYear(),
    logFile: 'maillog',
    environment: {
      postfix: execFileSync('postconf', ['-h', '-c', CONF, 'mail_version']).toString().trim(),
      node: process.version,
      nodeOpenssl: process.versions.openssl,
    },
    listeners: Object.fromEntries(Object.entries(PORTS).map(([k, v]) => [k, { port: v, service: SERVICE[k] }])),
    peers,
    notes: [
      'expected follows tlscensus/report@1; it is computed from sessions[].events, which come from what each client was made to do and saw, never from the log.',
      'Outbound suites are pinned by configuration (postfix-instance.sh), not observed by a client of ours.',
      'A relayed message is 1 inbound plaintext submission + 1 outbound connection + 1 inbound connection at the target listener, all from/to 127.0.0.1.',
      'sessions[].logLines are the log lines written while the session ran (for diagnosis); check is the reference self-check of the driver.',
    ],
    expected,
    sessions,
    elapsedMs: Date.now() - t0,
  };
  fs.writeFileSync(args.out, `${JSON.stringify(truth, null, 2)}\n`);
  say(
    `${sessions.length} sessions, ${events.length} connection events in ${Math.round((Date.now() - t0) / 1000)} s; truth: ${args.out}`,
  );
  if (failed) {
    say(`${failed} session(s) did not behave as planned`);
    process.exit(1);
  }
}

main().catch((e) => {
  process.stderr.write(`[drive] ERROR: ${e.stack ?? e}\n`);
  process.exit(2);
});
