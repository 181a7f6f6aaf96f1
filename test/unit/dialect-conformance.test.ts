// Every dialect has a fixture of real lines, every annotation holds, unannotated lines yield no event, and
// no dialect throws on fuzzed input (DESIGN.md §4). Dialect and fixture lists are read from disk, so a new
// dialect without a fixture fails here.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HOLDS, MALFORMED, messageHolds, UNSURE } from '../../src/dialects/dialect.js';
import { DIALECTS } from '../../src/dialects/registry.js';
import { parseZone, WallClock, YearResolver } from '../../src/envelope/clock.js';
import { parseEnvelope } from '../../src/envelope/parse-envelope.js';
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
  // HOLDS_NONE that none is (else a line would reach the interpreter, or miss it, unlike the keyword filter).
  for (const dialect of DIALECTS.filter((d) => d.keywordTestFor !== undefined)) {
    it(`${dialect.id}: keywordTestFor answers what the keywords say`, () => {
      const fixture = readFixture(path.join(FIXTURE_DIR, `${dialect.id}.log`));
      const ctx = { clock: new WallClock(parseZone('UTC')), years: new YearResolver(2026, 0) };
      const envs = fixture.lines
        .map((l) => parseEnvelope(l.text, ctx))
        .filter((e): e is NonNullable<typeof e> => e !== null && dialect.claims(e.program));
      const programs = [...new Set(envs.map((e) => e.program))];
      const answered = new Set<number>();
      const check = (program: string, message: string): void => {
        const test = dialect.keywordTestFor!(program);
        if (test === null) return;
        const buf = Buffer.from(message, 'utf8');
        const answer = test(buf, 0, buf.length);
        answered.add(answer);
        if (answer === UNSURE) return;
        const keywords = dialect.keywordsFor?.(program) ?? dialect.keywords;
        const holds = keywords.some((k) => message.includes(k));
        assert.equal(holds, answer === HOLDS, `${program}: ${JSON.stringify(message)} answered ${answer}`);
      };
      for (const e of envs) check(e.program, e.message);
      assert.ok(answered.has(HOLDS), 'the fixture has messages keywordTestFor knows hold a keyword');
      const messages = envs.map((e) => e.message);
      fc.assert(
        fc.property(
          fc.constantFrom(...programs),
          fc.constantFrom(...messages),
          fc.nat(),
          fc.nat(),
          fc.string({ maxLength: 12 }),
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
