#!/usr/bin/env node
// tlscensus command line. The only place that prints or exits (DESIGN.md §2): expected errors print
// `error: …` and `hint: …` and exit with their code; only a bug prints a stack trace.

import { Command, CommanderError } from 'commander';
import { CensusError, EXIT } from '../model/errors.js';
import { forTerminal } from '../render/sanitize.js';
import { registerAudit } from './audit-command.js';
import { processIo } from './io.js';
import { registerPeers } from './peers-command.js';
import { registerReport } from './report-command.js';
import { registerTrend } from './trend-command.js';
import { VERSION } from './version.js';
import { registerWatch } from './watch-command.js';
import { registerWhatIf } from './whatif-command.js';

export async function main(argv: string[]): Promise<number> {
  const io = processIo();
  const program = new Command('tlscensus')
    .description('What TLS your mail server really negotiates, from the logs it already writes.')
    .version(VERSION)
    .showHelpAfterError('(run tlscensus --help for usage)')
    .exitOverride()
    // (Commander quotes what was typed: an escape sequence in an argument must not reach the terminal raw either.)
    .configureOutput({ outputError: (text, write) => write(text.split('\n').map(forTerminal).join('\n')) });
  registerReport(program, io);
  registerPeers(program, io);
  registerWhatIf(program, io);
  registerAudit(program, io);
  registerWatch(program, io);
  registerTrend(program, io);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    io.endProgress();
    if (e instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof CensusError) {
      io.err(`error: ${forTerminal(e.message)}`);
      if (e.hint) io.err(`hint: ${forTerminal(e.hint)}`);
      return e.exitCode;
    }
    io.err(`tlscensus: internal error (please report it with the command you ran):`);
    io.err(e instanceof Error ? (e.stack ?? e.message) : String(e));
    return EXIT.internal;
  }
  io.endProgress();
  return io.exitCode;
}

let settled = false;
main(process.argv).then((code) => {
  settled = true;
  process.exitCode = code;
});
// Nothing left to wait for, and no answer: a promise that never settled (a bug). Silent, this would exit 0 with no
// output, which a cron job takes for success.
process.on('beforeExit', () => {
  if (settled) return;
  settled = true;
  process.stderr.write(
    'tlscensus: internal error (please report it with the command you ran): stopped before its end\n',
  );
  process.exitCode = EXIT.internal;
});
