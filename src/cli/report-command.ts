// `tlscensus report [LOG...]` (the default command): the census, in any format.

import { type Command, Option } from 'commander';
import { type CensusOptions, type CensusResult, census } from '../census/census.js';
import { CensusError, EXIT, type ExitCode } from '../model/errors.js';
import { REPORT_FORMATS } from '../render/render-report.js';
import { buildReport } from '../render/report-model.js';
import { forTerminal } from '../render/sanitize.js';
import { addCommonOptions, type CommonFlags, resolveCommon, unmatchedServicesNote } from './common-options.js';
import { addHistoryOptions, type HistoryFlags, openRecorder, summaryLine } from './history-options.js';
import type { Io } from './io.js';

interface ReportFlags extends CommonFlags, HistoryFlags {
  format: string;
  top: string;
}

export function registerReport(program: Command, io: Io): void {
  const cmd = program
    .command('report', { isDefault: true })
    .description('the census: protocol × cipher spread in and out, failures, plaintext peers, coverage');
  addHistoryOptions(addCommonOptions(cmd))
    .addOption(
      new Option('-f, --format <format>', 'output format').choices(Object.keys(REPORT_FORMATS)).default('table'),
    )
    .option('--top <n>', 'rows per failure/plaintext list in table and md output', '20')
    .action(async (logs: string[], flags: ReportFlags) => {
      io.setExit(await runReport(logs, flags, io));
    });
}

export async function runReport(logs: string[], flags: ReportFlags, io: Io): Promise<ExitCode> {
  const common = resolveCommon(logs, flags);
  const top = Number(flags.top);
  if (!Number.isInteger(top) || top < 1) {
    throw new CensusError('bad-top', `--top ${JSON.stringify(flags.top)} is not a positive whole number`, {
      hint: 'e.g. --top 50',
    });
  }
  // The history records every session of the logs, whatever the report shows (--since, --direction, …): trend
  // filters when it reads. It is opened first, so that a bad file fails before the logs are read.
  const recorder = openRecorder(
    flags,
    'report',
    common.inputs.map((i) => i.path),
  );
  const options: CensusOptions = {
    ...common.census,
    // The HTML report's what-if summaries judge a peer's services apart, as `whatif` does.
    peersByService: flags.format === 'html',
    ...io.progressFor(common.inputs, common.quiet),
  };
  if (recorder) options.history = recorder.buckets;
  let result: CensusResult;
  try {
    result = await census(common.inputs, options);
    const report = buildReport(result.view, result.diagnostics, common.window, { whatIf: flags.format === 'html' });
    const render = REPORT_FORMATS[flags.format]!;
    const rendered = await render(report, { color: common.color, top });
    if (typeof rendered === 'string') io.out(rendered);
    else await io.outAll(rendered);
    if (recorder) {
      const summary = recorder.finish();
      if (!common.quiet) io.err(summaryLine(flags.history!, summary));
    }
  } finally {
    recorder?.close();
  }
  if (!common.quiet) {
    for (const issue of result.diagnostics.issues) io.err(`warning: ${forTerminal(issue.message)}`);
    const services = unmatchedServicesNote(common, result.view, result.diagnostics.servicesSeen);
    if (services !== null) io.err(services);
    if (common.showUnparsed) {
      for (const s of result.diagnostics.samples)
        io.err(`unparsed ${forTerminal(s.source)}:${s.line}: ${forTerminal(s.text)}`);
    } else if (result.diagnostics.coverage.malformed > 0) {
      io.err(
        `note: ${result.diagnostics.coverage.malformed} line(s) looked relevant but did not parse; --show-unparsed lists them`,
      );
    }
  }
  return result.diagnostics.issues.length > 0 ? EXIT.incomplete : EXIT.ok;
}
