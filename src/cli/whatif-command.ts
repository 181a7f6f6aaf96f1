// `tlscensus whatif [LOG...]`: what a TLS policy (flags, or a Postfix main.cf) would do to every peer in the logs.
// Exit codes: 0, or 5 (EXIT.findings) with --fail-on when a peer gets one of the listed verdicts; 2 for usage and
// configuration errors (checked before any log is read); 3/4 as for `report`.

import fs from 'node:fs';
import { type Command, Option } from 'commander';
import { census } from '../census/census.js';
import { CensusError, EXIT, type ExitCode } from '../model/errors.js';
import { type MainCf, parseMainCf } from '../policy/main-cf.js';
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

/** Reads and parses `--main-cf` (a path, or - for stdin); a missing or unreadable file is a usage error. */
export function readMainCf(file: string, io: Io, quiet: boolean): MainCf {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CensusError(
      'bad-main-cf',
      `--main-cf ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : 'cannot be read'}`,
      { hint: 'give the path of main.cf (e.g. /etc/postfix/main.cf), or pipe `postconf -n` into --main-cf -' },
    );
  }
  const cf = parseMainCf(text, { source: file === '-' ? 'stdin' : file });
  if (!quiet) {
    for (const d of cf.diagnostics) {
      io.err(`warning: ${forTerminal(file)}${d.line !== null ? `:${d.line}` : ''}: ${forTerminal(d.message)}`);
    }
  }
  return cf;
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
    if (flags.mainCf === '-' && logs.includes('-')) {
      throw new CensusError('stdin-twice', 'standard input cannot be both the main.cf and a log', {
        hint: 'give the main.cf or the log as a file',
      });
    }
    return policyFromMainCf(readMainCf(flags.mainCf, io, quiet), { library, mandatoryServices, sections });
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
  const result = await census(common.inputs, { ...common.census, ...io.progressFor(common.inputs, common.quiet) });
  const whatif = evaluateWhatIf(result.view, policy);
  io.endProgress();
  for (const piece of renderWhatIf(
    flags.format,
    { ...whatif, coverage: result.diagnostics.coverage },
    { all: flags.all ?? false, top },
  ))
    io.out(piece);
  if (!common.quiet) {
    for (const issue of result.diagnostics.issues) io.err(`warning: ${forTerminal(issue.message)}`);
    const services = unmatchedServicesNote(common, result.view);
    if (services !== null) io.err(services);
  }
  if (whatif.peers.some((p) => failOn.has(p.verdict))) return EXIT.findings;
  return result.diagnostics.issues.length > 0 ? EXIT.incomplete : EXIT.ok;
}
