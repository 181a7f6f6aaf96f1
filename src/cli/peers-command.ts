// `tlscensus peers [LOG...]`: one row per peer (or per registrable domain with --by domain).

import { type Command, Option } from 'commander';
import { groupByDomain, peerRows } from '../aggregate/peer-rows.js';
import { census } from '../census/census.js';
import { EXIT, type ExitCode } from '../model/errors.js';
import { renderPeers } from '../render/peers-output.js';
import { forTerminal } from '../render/sanitize.js';
import { addCommonOptions, type CommonFlags, resolveCommon, unmatchedServicesNote } from './common-options.js';
import type { Io } from './io.js';

interface PeersFlags extends CommonFlags {
  format: string;
  by: string;
  legacy?: boolean;
  failing?: boolean;
  plaintext?: boolean;
  fallback?: boolean;
  domain?: string;
}

export function registerPeers(program: Command, io: Io): void {
  const cmd = program
    .command('peers')
    .description('one row per peer: host, ip, domain, network, sessions, messages, protocols, best and worst');
  addCommonOptions(cmd)
    .addOption(
      new Option('-f, --format <format>', 'output format').choices(['table', 'json', 'csv', 'md']).default('table'),
    )
    .addOption(
      new Option('--by <what>', 'one row per peer, or per registrable domain')
        .choices(['peer', 'domain'])
        .default('peer'),
    )
    .option('--legacy', 'only peers that used SSLv3, TLS 1.0 or 1.1, or an insecure suite')
    .option('--failing', 'only peers with failed handshakes')
    .option('--plaintext', 'only peers with plaintext sessions')
    .option('--fallback', 'only peers that went on in plaintext right after a failed handshake (TLS fallback)')
    .option('--domain <domain>', 'only peers of this registrable domain (e.g. example.com)')
    .action(async (logs: string[], flags: PeersFlags) => {
      io.setExit(await runPeers(logs, flags, io));
    });
}

async function runPeers(logs: string[], flags: PeersFlags, io: Io): Promise<ExitCode> {
  const common = resolveCommon(logs, flags);
  const result = await census(common.inputs, { ...common.census, ...io.progressFor(common.inputs, common.quiet) });
  const rows = peerRows(result.view, {
    legacy: flags.legacy ?? false,
    failing: flags.failing ?? false,
    plaintext: flags.plaintext ?? false,
    fallback: flags.fallback ?? false,
    domain: flags.domain ?? null,
  });
  const groups = flags.by === 'domain' ? groupByDomain(rows) : null;
  io.endProgress();
  await io.outAll(renderPeers(flags.format, groups ? null : rows, groups, result.diagnostics.coverage));
  if (!common.quiet) {
    for (const issue of result.diagnostics.issues) io.err(`warning: ${forTerminal(issue.message)}`);
    const services = unmatchedServicesNote(common, result.view, result.diagnostics.servicesSeen);
    if (services !== null) io.err(services);
  }
  return result.diagnostics.issues.length > 0 ? EXIT.incomplete : EXIT.ok;
}
