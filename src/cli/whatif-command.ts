// `tlscensus whatif [LOG...]`: what a TLS policy (flags, or a Postfix main.cf) would do to every peer in the logs.
// Exit codes: 0, or 5 (EXIT.findings) with --fail-on when a peer gets one of the listed verdicts; 2 for usage and
// configuration errors (checked before any log is read); 3/4 as for `report`.

import fs from 'node:fs';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { census } from '../census/census.js';
import { CensusError, EXIT, type ExitCode } from '../model/errors.js';
import { type MainCf, type MainCfDiagnostic, parseMainCf } from '../policy/main-cf.js';
import { type MasterCf, parseMasterCf, serviceMainCf } from '../policy/master-cf.js';
import { evaluateWhatIf, VERDICTS, type Verdict } from '../policy/whatif.js';
import {
  type LibraryModel,
  policyFromFlags,
  policyFromMainCf,
  type WhatIfPolicy,
  type WhatIfSection,
} from '../policy/whatif-policy.js';
import { forTerminal } from '../render/sanitize.js';
import { renderWhatIf, WHATIF_FORMATS } from '../render/whatif-output.js';
import { addCommonOptions, type CommonFlags, resolveCommon, unmatchedServicesNote } from './common-options.js';
import type { Io } from './io.js';

interface WhatIfFlags extends CommonFlags {
  format: string;
  minProtocol?: string;
  excludeProtocols?: string;
  ciphers?: string;
  mainCf?: string;
  /** A path; false for --no-master-cf; undefined: master.cf beside --main-cf, when there is one. */
  masterCf?: string | false;
  openssl: string;
  mandatoryServices?: string;
  failOn?: string;
  all?: boolean;
  top: string;
}

/** Shared with `audit`: the OpenSSL model flag. */
export function opensslOption(): Option {
  return new Option(
    '--openssl <model>',
    "TLS library to model: current (what the logs show the server can do) or 3.0 (Debian 12 OpenSSL 3.0: no SSLv3/RC4/3DES; security levels, at Postfix's own 0 unless @SECLEVEL or peer authentication)",
  )
    .choices(['current', '3.0'])
    .default('current');
}

export function registerWhatIf(program: Command, io: Io): void {
  const cmd = program
    .command('whatif')
    .description('what a TLS policy would do to each peer: unaffected, downgraded, loses TLS, refused');
  addCommonOptions(cmd)
    .addOption(new Option('-f, --format <format>', 'output format').choices([...WHATIF_FORMATS]).default('table'))
    .option('--min-protocol <version>', 'lowest protocol version allowed: SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3')
    .option('--exclude-protocols <list>', 'protocol versions to disallow, comma-separated: SSLv3,TLSv1')
    .option('--ciphers <string>', "OpenSSL cipher string for TLS ≤ 1.2, e.g. 'HIGH:!aNULL:!SHA1'")
    .option('--main-cf <file>', 'take the policy from a Postfix main.cf or `postconf -n` output (- for stdin)')
    .option(
      '--master-cf <file>',
      'with --main-cf: each smtpd service and smtp transport under its own -o overrides, from master.cf or `postconf -M` output (default: the master.cf beside main.cf, if any)',
    )
    .option('--no-master-cf', 'with --main-cf: do not read the master.cf beside it')
    .addOption(opensslOption())
    .option(
      '--mandatory-services <list>',
      'services where TLS is required (default: submission,submissions,smtps; IMAP/POP3 always)',
    )
    .option(
      '--fail-on <verdicts>',
      'exit 5 when a peer gets one of these verdicts, comma-separated: loses-tls, refused, downgraded, undetermined',
    )
    .option('--all', 'list unaffected peers too (table and md)')
    .option('--top <n>', 'peers per section in table and md output', '50')
    .action(async (logs: string[], flags: WhatIfFlags) => {
      io.setExit(await runWhatIf(logs, flags, io));
    });
}

function splitList(s: string): string[] {
  return s
    .split(/[,\s]+/)
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

export function sectionsFor(direction: string): WhatIfSection[] {
  if (direction.startsWith('in')) return ['inbound', 'mailbox'];
  if (direction.startsWith('out')) return ['outbound'];
  return ['inbound', 'outbound', 'mailbox'];
}

/**
 * A configuration file's text (a path, or - for stdin); a missing or unreadable file is a usage error, named as
 * the user gave it (`what`: `--main-cf FILE`, or the master.cf found beside main.cf).
 */
function readConfig(id: string, what: string, file: string, hint: string): string {
  try {
    return fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CensusError(
      id,
      `${what}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : 'cannot be read'}`,
      { hint },
    );
  }
}

function warnAbout(file: string, diagnostics: readonly MainCfDiagnostic[], io: Io, quiet: boolean): void {
  if (quiet) return;
  for (const d of diagnostics) {
    io.err(`warning: ${forTerminal(file)}${d.line !== null ? `:${d.line}` : ''}: ${forTerminal(d.message)}`);
  }
}

/** Reads and parses `--main-cf` (a path, or - for stdin); a missing or unreadable file is a usage error. */
export function readMainCf(file: string, io: Io, quiet: boolean): MainCf {
  const text = readConfig(
    'bad-main-cf',
    `--main-cf ${file}`,
    file,
    'give the path of main.cf (e.g. /etc/postfix/main.cf), or pipe `postconf -n` into --main-cf -',
  );
  const cf = parseMainCf(text, { source: file === '-' ? 'stdin' : file });
  warnAbout(file, cf.diagnostics, io, quiet);
  return cf;
}

/**
 * The master.cf to read with `--main-cf`: `--master-cf FILE`, else the one beside a file named main.cf (as in
 * /etc/postfix), unless --no-master-cf; null for none. Its -o overrides are checked against main.cf here, so that
 * an error in one is reported before any log is read.
 */
export function readMasterCf(
  flags: { mainCf?: string; masterCf?: string | false },
  mainCf: MainCf,
  io: Io,
  quiet: boolean,
): MasterCf | null {
  if (flags.masterCf === false || flags.mainCf === undefined) return null;
  let file = flags.masterCf;
  let what = `--master-cf ${file}`;
  if (file === undefined) {
    if (flags.mainCf === '-' || path.basename(flags.mainCf) !== 'main.cf') return null;
    const beside = path.join(path.dirname(flags.mainCf), 'master.cf');
    if (!fs.existsSync(beside)) return null;
    file = beside;
    what = `the master.cf beside --main-cf (${beside})`;
  }
  const text = readConfig(
    'bad-master-cf',
    what,
    file,
    'give the path of master.cf (e.g. /etc/postfix/master.cf), pipe `postconf -M` into --master-cf -, or leave it out with --no-master-cf',
  );
  const master = parseMasterCf(text, { source: file === '-' ? 'stdin' : file });
  warnAbout(file, master.diagnostics, io, quiet);
  // Errors in any override (Postfix would stop), warnings only in those of TLS settings and syslog_name: an
  // override of another parameter may name one this tool has no default for.
  for (const service of master.services) {
    const diagnostics = serviceMainCf(mainCf, service).diagnostics.filter(
      (d) => d.severity === 'error' || /tls|^syslog_name$/.test(d.parameter ?? ''),
    );
    warnAbout(file, diagnostics, io, quiet);
  }
  return master;
}

function buildPolicy(flags: WhatIfFlags, io: Io, quiet: boolean, logs: readonly string[]): WhatIfPolicy {
  const library = flags.openssl as LibraryModel;
  const sections = sectionsFor(flags.direction);
  const mandatoryServices = flags.mandatoryServices !== undefined ? splitList(flags.mandatoryServices) : null;
  const fromFlags =
    flags.minProtocol !== undefined || flags.excludeProtocols !== undefined || flags.ciphers !== undefined;
  if (flags.mainCf !== undefined) {
    if (fromFlags) {
      throw new CensusError(
        'policy-conflict',
        '--main-cf cannot be combined with --min-protocol, --exclude-protocols or --ciphers',
        {
          hint: 'evaluate one policy at a time: either the flags or the main.cf',
        },
      );
    }
    const stdinUsers = [flags.mainCf === '-', flags.masterCf === '-', logs.includes('-')].filter(Boolean).length;
    if (stdinUsers > 1) {
      throw new CensusError('stdin-twice', 'standard input can be only one of the main.cf, the master.cf and a log', {
        hint: 'give the others as files',
      });
    }
    const mainCf = readMainCf(flags.mainCf, io, quiet);
    const masterCf = readMasterCf(flags, mainCf, io, quiet);
    return policyFromMainCf(mainCf, { library, mandatoryServices, sections, masterCf });
  }
  if (typeof flags.masterCf === 'string') {
    throw new CensusError('master-cf-alone', '--master-cf needs --main-cf: its -o settings override main.cf', {
      hint: 'add --main-cf /etc/postfix/main.cf (or `postconf -n` output)',
    });
  }
  if (!fromFlags) {
    throw new CensusError('no-policy', 'no policy to evaluate', {
      hint: "give --min-protocol TLSv1.2, --exclude-protocols SSLv3,TLSv1, --ciphers 'HIGH:!aNULL' or --main-cf FILE",
    });
  }
  return policyFromFlags({
    minProtocol: flags.minProtocol,
    excludeProtocols: flags.excludeProtocols,
    ciphers: flags.ciphers,
    library,
    mandatoryServices,
    sections,
  });
}

function parseFailOn(text: string | undefined): Set<Verdict> {
  const out = new Set<Verdict>();
  if (text === undefined) return out;
  for (const v of splitList(text)) {
    if (!(VERDICTS as readonly string[]).includes(v) || v === 'unaffected') {
      throw new CensusError('bad-fail-on', `--fail-on: unknown verdict "${v}"`, {
        hint: 'use loses-tls, refused, downgraded or undetermined, comma-separated',
      });
    }
    out.add(v as Verdict);
  }
  return out;
}

async function runWhatIf(logs: string[], flags: WhatIfFlags, io: Io): Promise<ExitCode> {
  const top = Number(flags.top);
  if (!Number.isInteger(top) || top < 1) {
    throw new CensusError('bad-top', `--top ${JSON.stringify(flags.top)} is not a positive whole number`, {
      hint: 'e.g. --top 100',
    });
  }
  const failOn = parseFailOn(flags.failOn);
  const quiet = flags.quiet ?? false;
  const policy = buildPolicy(flags, io, quiet, logs);
  const common = resolveCommon(logs, flags);
  const result = await census(common.inputs, {
    ...common.census,
    // Each service's sessions judged apart, on their own counts (port 25 and submission; master.cf's -o). The
    // tables are kept for the SMTP sections only: as much again as their peers, while most peers of a busy server
    // are IMAP/POP3 clients (all on a 300 MB genlog log, 333 MiB against 273).
    peersByService: true,
    ...io.progressFor(common.inputs, common.quiet),
  });
  const whatif = evaluateWhatIf(result.view, policy);
  io.endProgress();
  await io.outAll(
    renderWhatIf(flags.format, { ...whatif, coverage: result.diagnostics.coverage }, { all: flags.all ?? false, top }),
  );
  if (!common.quiet) {
    for (const issue of result.diagnostics.issues) io.err(`warning: ${forTerminal(issue.message)}`);
    const services = unmatchedServicesNote(common, result.view, result.diagnostics.servicesSeen);
    if (services !== null) io.err(services);
  }
  if (whatif.peers.some((p) => failOn.has(p.verdict))) return EXIT.findings;
  return result.diagnostics.issues.length > 0 ? EXIT.incomplete : EXIT.ok;
}
