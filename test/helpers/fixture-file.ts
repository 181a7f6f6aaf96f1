// Reads annotated dialect fixtures (DESIGN.md §4, in the spirit of fail2ban's test logs):
//
//   # year: 2026                 directive: year for timestamps without one (default 2026); zone is UTC
//   # any other comment          ignored (sources, provenance)
//   # line: {"kind":"tls", …}    what the next log line must yield; several `# line:` for several observations
//   # outcome: malformed         the next log line must be malformed (or: unrecognized, foreign)
//   <log line>                   a line with no annotation must yield no event
//
// Annotations are partial: each key given must equal the observation's (deep for `peer`). `tls` is an alias
// of the `handshake` kind.

import fs from 'node:fs';

export interface FixtureLine {
  lineNo: number;
  text: string;
  expect: Record<string, unknown>[];
  outcome: 'event' | 'unrecognized' | 'malformed' | 'foreign' | null;
}

export interface Fixture {
  path: string;
  year: number;
  lines: FixtureLine[];
}

export function readFixture(path: string): Fixture {
  const raw = fs.readFileSync(path, 'utf8').split('\n');
  const lines: FixtureLine[] = [];
  let year = 2026;
  let pending: Record<string, unknown>[] = [];
  let outcome: FixtureLine['outcome'] = null;
  raw.forEach((text, i) => {
    if (text === '') return;
    if (text.startsWith('# line:')) {
      pending.push(JSON.parse(text.slice(7)) as Record<string, unknown>);
      return;
    }
    if (text.startsWith('# outcome:')) {
      outcome = text.slice(10).trim() as FixtureLine['outcome'];
      return;
    }
    if (text.startsWith('# year:')) {
      year = Number(text.slice(7));
      return;
    }
    if (text.startsWith('# ') || text === '#') return;
    lines.push({ lineNo: i + 1, text, expect: pending, outcome: outcome ?? (pending.length > 0 ? 'event' : null) });
    pending = [];
    outcome = null;
  });
  return { path, year, lines };
}

/** Does `actual` have every key of `expected` with an equal value? */
export function matches(expected: Record<string, unknown>, actual: Record<string, unknown>): string | null {
  for (const [k, v] of Object.entries(expected)) {
    const key = k === 'kind' && v === 'tls' ? 'kind' : k;
    const want = k === 'kind' && v === 'tls' ? 'handshake' : v;
    const got = actual[key];
    if (JSON.stringify(normalise(got)) !== JSON.stringify(normalise(want))) {
      return `${k}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`;
    }
  }
  return null;
}

function normalise(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
}
