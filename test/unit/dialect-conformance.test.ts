// Every dialect has a fixture of real lines, every annotation holds, unannotated lines yield no event, and
// no dialect throws on fuzzed input (DESIGN.md §4). Dialect and fixture lists are read from disk, so a new
// dialect without a fixture fails here.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HOLDS, MALFORMED, messageHolds, NO_EVENT, UNSURE } from '../../src/dialects/dialect.js';
import { DIALECTS } from '../../src/dialects/registry.js';
import { parseZone, WallClock, YearResolver } from '../../src/envelope/clock.js';
import { parseEnvelope } from '../../src/envelope/parse-envelope.js';
import type { Observation } from '../../src/model/types.js';
import { matches, readFixture } from '../helpers/fixture-file.js';
import { fixturePath } from '../helpers/paths.js';

const FIXTURE_DIR = fixturePath('dialects');

describe('dialect conformance', () => {
  it('every dialect has a fixture and every fixture a dialect', () => {
    const files = fs.readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.log'));
    const ids = DIALECTS.map((d) => d.id).sort();
    assert.deepEqual(files.map((f) => f.replace(/\.log$/, '')).sort(), ids);
  });

  for (const dialect of DIALECTS) {
    it(`${dialect.id}: every fixture line means what its annotation says`, () => {
      const fixture = readFixture(path.join(FIXTURE_DIR, `${dialect.id}.log`));
      const ctx = { clock: new WallClock(parseZone('UTC')), years: new YearResolver(fixture.year, 0) };
      const interpret = dialect.createInterpreter();
      const failures: string[] = [];
      let events = 0;
      for (const line of fixture.lines) {
        const where = `${dialect.id}.log:${line.lineNo}`;
        const env = parseEnvelope(line.text, ctx);
        if (env === null || !dialect.claims(env.program)) {
          if (line.outcome !== 'foreign' && line.outcome !== 'malformed') failures.push(`${where}: not claimed`);
          continue;
        }
        const result = interpret(env);
        if (line.outcome === 'malformed') {
          if (result !== MALFORMED) failures.push(`${where}: expected malformed, got ${JSON.stringify(result)}`);
          continue;
        }
        if (result === MALFORMED) {
          failures.push(`${where}: malformed`);
          continue;
        }
        const got = result ?? [];
        if (line.expect.length === 0) {
          if (got.length > 0) failures.push(`${where}: no annotation but yields ${JSON.stringify(got)}`);
          continue;
        }
        events++;
        if (got.length !== line.expect.length) {
          failures.push(`${where}: expected ${line.expect.length} observation(s), got ${JSON.stringify(got)}`);
          continue;
        }
        line.expect.forEach((exp, i) => {
          const diff = matches(exp, got[i] as unknown as Record<string, unknown>);
          if (diff) failures.push(`${where}: ${diff}`);
        });
      }
      assert.deepEqual(failures, []);
      assert.ok(events > 0, 'a fixture must contain annotated lines');
    });

    it(`${dialect.id}: interpret never throws (fuzzed)`, () => {
      const fixture = readFixture(path.join(FIXTURE_DIR, `${dialect.id}.log`));
      const seeds = fixture.lines.map((l) => l.text);
      const ctx = { clock: new WallClock(parseZone('UTC')), years: new YearResolver(2026, 0) };
      const interpret = dialect.createInterpreter();
      const mutated = fc
        .tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat(), fc.string({ maxLength: 20 }))
        .map(([s, a, b, ins]) => {
          const i = a % (s.length + 1);
          const j = Math.min(s.length, i + (b % 40));
          return s.slice(0, i) + ins + s.slice(j);
        });
      fc.assert(
        fc.property(
          fc.oneof(mutated, fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 200 })),
          (text) => {
            const env = parseEnvelope(text, ctx);
            if (env === null) return;
            interpret(env);
            interpret({ ...env, program: dialect.id });
          },
        ),
        { numRuns: 2000 },
      );
    });
  }

  // The hot path trusts keywordTestFor instead of searching: HOLDS must mean a keyword is in the message, and
  // HOLDS_NONE that none is (else a line would reach the interpreter, or miss it, unlike the keyword filter);
  // NO_EVENT that the interpreter makes nothing of the message (no observation, not malformed).
  for (const dialect of DIALECTS.filter((d) => d.keywordTestFor !== undefined)) {
    it(`${dialect.id}: keywordTestFor answers what the keywords say`, () => {
      const fixture = readFixture(path.join(FIXTURE_DIR, `${dialect.id}.log`));
      const ctx = { clock: new WallClock(parseZone('UTC')), years: new YearResolver(2026, 0) };
      const envs = fixture.lines
        .map((l) => parseEnvelope(l.text, ctx))
        .filter((e): e is NonNullable<typeof e> => e !== null && dialect.claims(e.program));
      const programs = [...new Set(envs.map((e) => e.program))];
      const answered = new Set<number>();
      const interpret = dialect.createInterpreter();
      const check = (program: string, message: string): void => {
        const test = dialect.keywordTestFor!(program);
        if (test === null) return;
        // In a larger buffer, as on the hot path: a test must not read past the message.
        const buf = Buffer.from(`>${message}> ]`, 'utf8');
        const answer = test(buf, 1, buf.length - 3);
        answered.add(answer);
        if (answer === UNSURE) return;
        if (answer === NO_EVENT) {
          const result = interpret({ timeMs: 0, host: 'mx', program, pid: 1, message });
          assert.ok(
            result === null || (Array.isArray(result) && result.length === 0),
            `${program}: ${JSON.stringify(message)} answered NO_EVENT but interprets as ${JSON.stringify(result)}`,
          );
          return;
        }
        const keywords = dialect.keywordsFor?.(program) ?? dialect.keywords;
        const holds = keywords.some((k) => message.includes(k));
        assert.equal(holds, answer === HOLDS, `${program}: ${JSON.stringify(message)} answered ${answer}`);
      };
      for (const e of envs) check(e.program, e.message);
      assert.ok(answered.has(HOLDS), 'the fixture has messages keywordTestFor knows hold a keyword');
      if (dialect.id === 'postfix') assert.ok(answered.has(NO_EVENT), 'the fixture has LMTP deliveries to a socket');
      const messages = envs.map((e) => e.message);
      fc.assert(
        fc.property(
          fc.constantFrom(...programs),
          fc.constantFrom(...messages),
          fc.nat(),
          fc.nat(),
          // Random text, or a piece that turns a keyword test's shape into another one.
          fc.oneof(
            fc.string({ maxLength: 12 }),
            fc.constantFrom('TLS connection ', 'status=', ' relay=', ' orig_to=<', '[', ']', '/', '>', ',', ' ', 'é'),
          ),
          (program, m, a, b, ins) => {
            const i = a % (m.length + 1);
            check(program, m.slice(0, i) + ins + m.slice(Math.min(m.length, i + (b % 30))));
          },
        ),
        { numRuns: 3000 },
      );
    });
  }
});

describe('messageHolds', () => {
  it('is true exactly when the bytes of the message hold the keyword', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('rip=', 'status=', 'TLS', 'x'),
        fc.array(fc.constantFrom('r', 'ri', 'rip', 'rip=', 'status', 's', '=', 'T', 'TL', 'TLS', ' ', 'x', 'é'), {
          maxLength: 12,
        }),
        fc.nat(4),
        fc.nat(4),
        (keyword, parts, cutStart, cutEnd) => {
          const buf = Buffer.from(parts.join(''), 'utf8');
          const start = Math.min(cutStart, buf.length);
          const end = Math.max(start, buf.length - cutEnd);
          const want = buf.subarray(start, end).includes(Buffer.from(keyword, 'latin1'));
          assert.equal(messageHolds(keyword)(buf, start, end), want);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('postfix smtp/lmtp NO_EVENT', () => {
  // Deliveries to no network peer are dropped before the interpreter; this holds that to what the interpreter
  // makes of the same message, on delivery lines built from pieces that move every boundary the byte test reads.
  const postfix = DIALECTS.find((d) => d.id === 'postfix')!;
  const interpret = postfix.createInterpreter();
  // The first choice (the shape of a real delivery) three times in four, so that whole deliveries are common.
  const piece = (good: string, ...odd: string[]) =>
    fc.oneof({ weight: 3, arbitrary: fc.constant(good) }, { weight: 1, arbitrary: fc.constantFrom(...odd) });
  const message = fc
    .tuple(
      piece('3A5444167F', 'AABB', 'AABBCC', 'A'.repeat(20), 'A'.repeat(21), 'NOQUEUE', 'warning', ''),
      piece(': to=<', ': to=', ':to=<', ': from=<'),
      piece('a@b.example', '', 'x>y', 'TLS connection ', 'é@b'),
      piece('>, ', '>,', '> ', ''),
      piece('', 'orig_to=<c@d>, ', 'orig_to=<c@d> ', 'orig_to=<, ', 'orig_to=<c@d>, '),
      piece('relay=', 'relay =', 'Relay='),
      piece(
        'mx[private/dovecot-lmtp]',
        'none',
        'dovecot[/var/run/dovecot/lmtp]',
        'mx[1.2.3.4]:25',
        '127.0.0.1[127.0.0.1]:24',
        'mx[2001:db8::1]',
        'mx[]',
        'a]b[c/d]',
        'a[b[c/d]',
        'mx[priv\u00e9/x]',
        'mx[x.x.x]',
        'mx[#]',
      ),
      piece(', ', ',', ' ', ''),
      piece('delay=0.4, dsn=2.0.0, ', '', 'TLS connection established to x[1.2.3.4]:25: ', '\u2028'),
      piece(
        'status=sent (250 2.0.0 Saved)',
        'status=deferred',
        'status=',
        'status=bounced (TLS is required, but was not offered by host x)',
      ),
    )
    .map((parts) => parts.join(''));

  it('is answered only for messages the interpreter makes nothing of', () => {
    const test = postfix.keywordTestFor!('postfix/lmtp')!;
    let noEvent = 0;
    fc.assert(
      fc.property(message, (m) => {
        const buf = Buffer.from(`>${m}>]`, 'utf8');
        if (test(buf, 1, buf.length - 2) !== NO_EVENT) return;
        noEvent++;
        const result = interpret({ timeMs: 0, host: 'mx', program: 'postfix/lmtp', pid: 1, message: m });
        assert.ok(result === null || (Array.isArray(result) && result.length === 0), `${JSON.stringify(m)}`);
      }),
      { numRuns: 20000 },
    );
    assert.ok(noEvent > 100, `NO_EVENT answered ${noEvent} times`);
  });
});

describe('hostile long lines', () => {
  // A 60 KB line of one repeated fragment once took seconds in a regular expression (Sendmail's `proto=`, from
  // every start position; Dovecot's elements start). Not timed here (no timings in unit tests): this holds what
  // those lines mean, and `npm run bench` holds the speed.
  it('a Sendmail arrival whose middle repeats a fragment thousands of times is still one message', () => {
    const sendmail = DIALECTS.find((d) => d.id === 'sendmail')!;
    const message =
      `u253KqZe002564: from=<a@b.example>, size=408, class=0, nrcpts=1, pr${'o=ESMTPS'.repeat(7500)}oto=ESMTP, ` +
      'daemon=MTA, relay=mx.example [192.0.2.7]';
    const result = sendmail.createInterpreter()({ timeMs: 0, host: 'mx', program: 'sm-mta', pid: 2564, message });
    assert.ok(Array.isArray(result), 'interpreted');
    const kinds = (result as Observation[]).map((o) => o.kind);
    assert.ok(kinds.includes('message'), `observations: ${kinds.join(', ')}`);
    assert.ok(!kinds.includes('handshake'), 'no proto=ESMTPS of its own: not a TLS arrival');
  });
});
