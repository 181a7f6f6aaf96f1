#!/usr/bin/env node
// Generates src/ciphers/suites.generated.ts from the cipher data (data/cipher-suites.csv, a copy of
// ../shared/data/cipher-suites.csv; format in data/cipher-suites.README.md §1). The TypeScript table is checked in so the build needs no data
// directory; test/unit/ciphers-generated.test.ts re-runs this script and fails if the two drift apart.
//
// usage: npm run gen:ciphers
//        node scripts/gen-cipher-table.mjs [CSV] [OUT]    (defaults: data/cipher-suites.csv,
//                                                        src/ciphers/suites.generated.ts; relative to cwd)
// Plain Node, no dependencies. The output depends only on the CSV bytes, never on the time or the machine.

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const csvPath = path.resolve(process.argv[2] ?? path.join(projectRoot, 'data', 'cipher-suites.csv'));
const outPath = path.resolve(process.argv[3] ?? path.join(projectRoot, 'src', 'ciphers', 'suites.generated.ts'));

const COLUMNS = [
  'code',
  'iana_name',
  'openssl_name',
  'gnutls_name',
  'min_protocol',
  'kx',
  'auth',
  'enc',
  'enc_bits',
  'mac',
  'aead',
  'pfs',
  'mozilla',
  'rating',
];
const MIN_PROTOCOLS = ['SSLv3', 'TLSv1', 'TLSv1.2', 'TLSv1.3'];
const MOZILLA = ['modern', 'intermediate', 'old', 'none'];
const RATINGS = ['recommended', 'secure', 'weak', 'insecure'];
const YES_NO = { yes: true, no: false };

function fail(message) {
  process.stderr.write(`gen-cipher-table: ${path.relative(process.cwd(), csvPath)}: ${message}\n`);
  process.exit(1);
}

/** RFC 4180 subset: comma separated, `"` quoting with `""` escapes, `\n` or `\r\n` line ends. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else {
      field += c;
    }
  }
  if (quoted) fail('unterminated quoted field');
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function toSuite(record, line) {
  const where = `line ${line}`;
  const { code, min_protocol, enc_bits, aead, pfs, mozilla, rating } = record;
  if (!/^0x[0-9A-F]{2},0x[0-9A-F]{2}$/.test(code)) fail(`${where}: bad code ${JSON.stringify(code)}`);
  if (!MIN_PROTOCOLS.includes(min_protocol)) fail(`${where}: bad min_protocol ${JSON.stringify(min_protocol)}`);
  if (!/^(0|[1-9][0-9]*)$/.test(enc_bits)) fail(`${where}: bad enc_bits ${JSON.stringify(enc_bits)}`);
  if (!(aead in YES_NO) || !(pfs in YES_NO)) fail(`${where}: aead/pfs must be yes or no`);
  if (!MOZILLA.includes(mozilla)) fail(`${where}: bad mozilla ${JSON.stringify(mozilla)}`);
  if (!RATINGS.includes(rating)) fail(`${where}: bad rating ${JSON.stringify(rating)}`);
  for (const key of ['kx', 'auth', 'enc', 'mac']) {
    if (!/^[A-Za-z0-9_]+$/.test(record[key])) fail(`${where}: bad ${key} ${JSON.stringify(record[key])}`);
  }
  return {
    code,
    iana: record.iana_name || null,
    openssl: record.openssl_name || null,
    gnutls: record.gnutls_name || null,
    minProtocol: min_protocol,
    kx: record.kx,
    auth: record.auth,
    enc: record.enc,
    encBits: Number(enc_bits),
    mac: record.mac,
    aead: YES_NO[aead],
    pfs: YES_NO[pfs],
    mozilla,
    rating,
  };
}

const csvBytes = readFileSync(csvPath);
const [header, ...records] = parseCsv(csvBytes.toString('utf8'));
if (!header) fail('empty file');
const index = new Map(header.map((name, i) => [name, i]));
for (const column of COLUMNS) if (!index.has(column)) fail(`missing column ${column}`);

const suites = [];
const seen = { code: new Map(), iana: new Map(), openssl: new Map(), gnutls: new Map() };
records.forEach((cells, i) => {
  const line = i + 2;
  if (cells.length === 1 && cells[0] === '') return; // blank line
  if (cells.length !== header.length) fail(`line ${line}: ${cells.length} fields, header has ${header.length}`);
  const record = Object.fromEntries(COLUMNS.map((column) => [column, cells[index.get(column)].trim()]));
  const suite = toSuite(record, line);
  for (const key of Object.keys(seen)) {
    const value = suite[key];
    if (value === null) continue;
    if (seen[key].has(value)) fail(`line ${line}: duplicate ${key} ${value} (first on line ${seen[key].get(value)})`);
    seen[key].set(value, line);
  }
  suites.push(suite);
});

// Single-quoted like the rest of the code base; JSON.stringify supplies the escaping.
const q = (value) => (value === null ? 'null' : `'${JSON.stringify(value).slice(1, -1).replaceAll("'", "\\'")}'`);
const rowText = (s) =>
  `  { code: ${q(s.code)}, iana: ${q(s.iana)}, openssl: ${q(s.openssl)}, gnutls: ${q(s.gnutls)}, ` +
  `minProtocol: ${q(s.minProtocol)}, kx: ${q(s.kx)}, auth: ${q(s.auth)}, enc: ${q(s.enc)}, encBits: ${s.encBits}, ` +
  `mac: ${q(s.mac)}, aead: ${s.aead}, pfs: ${s.pfs}, mozilla: ${q(s.mozilla)}, rating: ${q(s.rating)} },`;

const source = path.relative(projectRoot, csvPath).split(path.sep).join('/');
const sha256 = createHash('sha256').update(csvBytes).digest('hex');
const output = `// GENERATED FILE - DO NOT EDIT. Regenerate with \`npm run gen:ciphers\` (scripts/gen-cipher-table.mjs).
// Source: ${source} (${suites.length} rows, sha256 ${sha256}).
// Column meanings and provenance: data/cipher-suites.README.md §1; ratings: §2; Mozilla profiles: §5.

/** Lowest protocol version the suite can be negotiated with (OpenSSL's convention, data/README.md §7). */
export type MinProtocol = 'SSLv3' | 'TLSv1' | 'TLSv1.2' | 'TLSv1.3';
/** Strictest Mozilla server-side TLS profile (guideline 5.8) that lists the suite. */
export type MozillaProfile = 'modern' | 'intermediate' | 'old' | 'none';
/** ciphersuite.info-style rating of the suite alone (data/README.md §2). */
export type SuiteRating = 'recommended' | 'secure' | 'weak' | 'insecure';

/** One CSV row. Rows are shared by every lookup, hence readonly. */
export interface CipherSuite {
  /** Two-byte code point, \`0xC0,0x30\` style. */
  readonly code: string;
  readonly iana: string | null;
  readonly openssl: string | null;
  readonly gnutls: string | null;
  readonly minProtocol: MinProtocol;
  readonly kx: string;
  readonly auth: string;
  readonly enc: string;
  readonly encBits: number;
  readonly mac: string;
  readonly aead: boolean;
  readonly pfs: boolean;
  readonly mozilla: MozillaProfile;
  readonly rating: SuiteRating;
}

export const CIPHER_SUITES: readonly CipherSuite[] = [
${suites.map(rowText).join('\n')}
];
`;

writeFileSync(outPath, output);
process.stdout.write(`gen-cipher-table: wrote ${suites.length} suites to ${path.relative(process.cwd(), outPath)}\n`);
