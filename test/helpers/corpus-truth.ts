// Shared by the corpus truth tests (test/unit/corpus-*.test.ts): the census of a fixture log as a report, the
// generated corpus's truth.json counts, and both sides keyed the same way (by IANA name: truth.json names
// suites the OpenSSL way, while Exim logs GnuTLS names and Exchange none at all).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CensusOptions, census } from '../../src/census/census.js';
import { lookupCipherFor, normaliseProtocol } from '../../src/ciphers/lookup.js';
import { buildReport, type DirectionReport, type ReportData } from '../../src/render/report-model.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { fixturePath } from './paths.js';

/** The census of `paths` as the JSON report, with the year and zone of the corpus (2026, UTC). */
export async function reportOf(paths: string[], options: CensusOptions = {}): Promise<ReportData> {
  const r = await census(resolveInputs(paths), { year: 2026, timezone: 'UTC', ...options });
  return buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
}

/** The `counts.in` / `counts.out` of a generated corpus's truth.json (../shared/realmta/README.md §7). */
export interface TruthCounts {
  sessions: number;
  tls: number;
  plaintext: number;
  tls_failed: number;
  starttls_abandoned: number;
  by_protocol: Record<string, number>;
  by_protocol_cipher: Record<string, number>;
}

export function readTruth(mta: string): { counts: { in: TruthCounts; out: TruthCounts } } {
  return JSON.parse(fs.readFileSync(fixturePath(`corpus/${mta}/truth.json`), 'utf8')) as {
    counts: { in: TruthCounts; out: TruthCounts };
  };
}

/** truth's `protocol cipher` → count, re-keyed as `protocol IANA-name`. */
export function byIana(counts: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(counts)) {
    const [protocol, cipher] = k.split(' ') as [string, string];
    const key = `${protocol} ${lookupCipherFor(normaliseProtocol(protocol), cipher)?.iana ?? cipher}`;
    out[key] = (out[key] ?? 0) + n;
  }
  return out;
}

/** A report section's spread as `protocol IANA-name` → handshakes. */
export function spreadByIana(d: DirectionReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of d.spread) out[`${row.protocol} ${row.iana ?? row.cipher}`] = row.count;
  return out;
}

/** A report section's handshakes per protocol. */
export function byProtocol(d: DirectionReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of d.spread) out[row.protocol] = (out[row.protocol] ?? 0) + row.count;
  return out;
}

/** Writes `lines` to a fresh temporary file and returns its path. */
export function writeLog(lines: string[], name = 'maillog', eol = '\n'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-corpus-'));
  const p = path.join(dir, name);
  fs.writeFileSync(p, `${lines.join(eol)}${eol}`);
  return p;
}
