// `tlscensus audit --main-cf FILE [LOG...]`: lint the TLS settings; with logs, propose the tightest policy that
// breaks at most --max-broken peers. Exit codes: 5 (EXIT.findings) when an error-severity finding exists, else
// 0 (or 3 when a log could not be read completely); 2 for usage and configuration errors.

import { type Command, Option } from 'commander';
import { census } from '../census/census.js';
import { CensusError, EXIT, type ExitCode } from '../model/errors.js';
import { auditMainCf, sortFindings } from '../policy/audit.js';
import { auditMasterCf, REPLACED_BY_MASTER_CF } from '../policy/audit-master-cf.js';
import { type Proposal, proposePolicy } from '../policy/audit-proposal.js';
import type { LibraryModel } from '../policy/whatif-policy.js';
import { AUDIT_FORMATS, auditData, renderAudit } from '../render/audit-output.js';
import { forTerminal } from '../render/sanitize.js';
import { addCommonOptions, type CommonFlags, resolveCommon, unmatchedServicesNote } from './common-options.js';
import type { Io } from './io.js';
import { opensslOption, readMainCf, readMasterCf } from './whatif-command.js';

interface AuditFlags extends CommonFlags {
  format: string;
  mainCf?: string;
  masterCf?: string | false;
  maxBroken: string;
  openssl: string;
  mandatoryServices?: string;
}

export function registerAudit(program: Command, io: Io): void {
  const cmd = program
    .command('audit')
    .description("lint main.cf's TLS settings; with logs, propose the tightest policy the traffic allows");
  // (audit reads no log unless given one: without, it lints main.cf alone and proposes nothing.)
  addCommonOptions(
    cmd,
    'log files, globs, directories of rotated logs, or - for stdin; none: main.cf is linted alone, with no proposal',
  )
    .addOption(new Option('-f, --format <format>', 'output format').choices([...AUDIT_FORMATS]).default('table'))
    .option('--main-cf <file>', 'the Postfix main.cf or `postconf -n` output to audit (- for stdin)')
    .option(
      '--master-cf <file>',
      'the master.cf (or `postconf -M` output) whose -o overrides to audit with it (default: the one beside main.cf, if any)',
    )
    .option('--no-master-cf', 'do not read the master.cf beside main.cf')
    .option('--max-broken <n>', 'the proposal may break at most this many peers of the logs', '0')
    .addOption(opensslOption())
    .option('--mandatory-services <list>', 'services where TLS is required (default: submission,submissions,smtps)')
    .action(async (logs: string[], flags: AuditFlags) => {
      io.setExit(await runAudit(logs, flags, io));
    });
}

async function runAudit(logs: string[], flags: AuditFlags, io: Io): Promise<ExitCode> {
  if (flags.mainCf === undefined) {
    throw new CensusError('no-main-cf', 'audit needs --main-cf FILE', {
      hint: 'tlscensus audit --main-cf /etc/postfix/main.cf [/var/log/mail.log*]  (or: postconf -n | tlscensus audit --main-cf -)',
    });
  }
  const maxBroken = Number(flags.maxBroken);
  if (!Number.isInteger(maxBroken) || maxBroken < 0) {
    throw new CensusError(
      'bad-max-broken',
      `--max-broken ${JSON.stringify(flags.maxBroken)} is not a whole number ≥ 0`,
      {
        hint: 'e.g. --max-broken 2',
      },
    );
  }
  const stdinUsers = [flags.mainCf === '-', flags.masterCf === '-', logs.includes('-')].filter(Boolean).length;
  if (stdinUsers > 1) {
    throw new CensusError('stdin-twice', 'standard input can be only one of the main.cf, the master.cf and a log', {
      hint: 'give the others as files',
    });
  }
  // The proposal sets main.cf-wide parameters: judged on a subset of the peers they govern, it would break the
  // others unseen (a review: with --service submission, ">=TLSv1.2 would break 0 peers" broke 27 on port 25).
  const subset = [
    flags.service !== undefined ? '--service' : null,
    flags.direction !== undefined && flags.direction !== 'both' ? '--direction' : null,
    flags.excludeUnknown ? '--exclude-unknown' : null,
  ].filter((x) => x !== null);
  if (subset.length > 0 && logs.length > 0) {
    throw new CensusError(
      'audit-subset',
      `audit judges main.cf on every peer it governs: ${subset.join(', ')} would hide some`,
      {
        hint: 'leave them out (the proposal covers inbound and outbound apart); use whatif for a subset of the traffic',
      },
    );
  }
  const quiet = flags.quiet ?? false;
  const cf = readMainCf(flags.mainCf, io, true);
  // (Its syntax errors are findings here, not warnings.)
  const masterCf = readMasterCf(flags, cf, io, true);
  const mainFindings = auditMainCf(cf);
  // With master.cf, its per-entry rules replace main.cf's of the same kind, which cannot see what it changes.
  const findings =
    masterCf === null
      ? mainFindings
      : sortFindings([
          ...mainFindings.filter((f) => !REPLACED_BY_MASTER_CF.has(f.id)),
          ...auditMasterCf(cf, masterCf, mainFindings),
        ]);
  let proposal: Proposal | null = null;
  let window: { first: string | null; last: string | null } | null = null;
  let coverage = null;
  let incomplete = false;
  if (logs.length > 0) {
    const common = resolveCommon(logs, flags);
    const result = await census(common.inputs, {
      ...common.census,
      // (Each service's sessions judged apart, as `whatif` does.)
      peersByService: true,
      ...io.progressFor(common.inputs, common.quiet),
    });
    io.endProgress();
    const mandatoryServices =
      flags.mandatoryServices !== undefined ? flags.mandatoryServices.split(/[,\s]+/).filter((s) => s !== '') : null;
    // No SMTP session read (a log of another program, only IMAP): nothing to fit a policy to, and every policy
    // would "break 0 peers" (a review: the tightest was proposed as safe).
    const smtpSessions = result.view.inbound.totals.sessions + result.view.outbound.totals.sessions;
    proposal =
      smtpSessions === 0
        ? null
        : // (main.cf's findings only: the proposal is a main.cf block, and removes only what main.cf sets.)
          proposePolicy(result.view, cf, mainFindings, {
            maxBroken,
            library: flags.openssl as LibraryModel,
            mandatoryServices,
            masterCf,
          });
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    window = { first: iso(result.view.firstMs), last: iso(result.view.lastMs) };
    coverage = result.diagnostics.coverage;
    incomplete = result.diagnostics.issues.length > 0;
    if (!quiet) {
      for (const issue of result.diagnostics.issues) io.err(`warning: ${forTerminal(issue.message)}`);
      const services = unmatchedServicesNote(common, result.view, result.diagnostics.servicesSeen);
      if (services !== null) io.err(services);
    }
  }
  const data = auditData(cf.source ?? flags.mainCf, masterCf?.source ?? null, findings, proposal, window, coverage);
  io.out(renderAudit(flags.format, data, proposal));
  if (findings.some((f) => f.severity === 'error')) return EXIT.findings;
  return incomplete ? EXIT.incomplete : EXIT.ok;
}
