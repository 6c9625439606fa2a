// The `airlock` command.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { addPasskeyCommands } from './passkey-tree.ts';
import { parsePositiveInt, runKindOption } from './options.ts';
import { processOutput, reportError, type Output } from './output.ts';

// Each command loads its own modules when it runs (`await import()`), so `airlock --help` loads commander
// and little else, `airlock runs` no queue, engine or forge client, and only `start` the whole runner.
const DEFAULT_CONFIG = process.env['AIRLOCK_CONFIG'] ?? 'runners/airlock.yaml';
// Shipped with the package, so `airlock demo` works from any directory.
const DEMO_CONFIG = fileURLToPath(new URL('../../runners/demo.yaml', import.meta.url));
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Parse argv, run the command, and return the exit code. */
export async function main(argv: string[], output: Output = processOutput()): Promise<number> {
  let code = 0;
  const program = new Command()
    .name('airlock')
    .description('Plans AI-agent pull requests unattended; applies only plans a human approved.')
    .version(VERSION, '-V, --version', 'print the Airlock version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) })
    .showHelpAfterError('(run `airlock --help` for usage)');
  const configOption = ['-c, --config <file>', 'runner config file (or $AIRLOCK_CONFIG)', DEFAULT_CONFIG] as const;

  program
    .command('start')
    .description('run the runner: watch repos, plan every new head, apply approved plans')
    .option(...configOption)
    .action(async (opts: { config: string }) => {
      const [{ loadConfig }, { createLogger }, { startRunner }] = await Promise.all([import('../config/load.ts'), import('../log/logger.ts'), import('../runner/runner.ts')]);
      const loaded = await loadConfig(opts.config);
      const log = createLogger({ level: loaded.config.log.level });
      const runner = await startRunner(loaded, { log });
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await runner.stop();
    });

  program
    .command('demo')
    .description('run the whole loop against a temporary repo: PR → plan → approve → apply → audit')
    .option('-c, --config <file>', 'demo runner config', DEMO_CONFIG)
    .option('--approve', 'approve without asking, even in a terminal')
    .option('--deny', 'deny without asking')
    .action(async (opts: { config: string; approve?: boolean; deny?: boolean }) => {
      const { runDemo } = await import('./demo.ts');
      code = await runDemo({ configFile: opts.config, output, decision: opts.approve ? 'approve' : opts.deny ? 'deny' : undefined });
    });

  program
    .command('runs')
    .description('list recent runs, newest first')
    .option(...configOption)
    .option('--json', 'machine-readable output')
    .option('--kind <kind>', 'only runs of this kind: pr or drift')
    .action(async (opts: { config: string; json?: boolean; kind?: string }) => {
      const { listRuns, withRunReader } = await import('./read-commands.ts');
      const kind = runKindOption(opts.kind);
      code = await withRunReader(opts.config, (reader) => listRuns(reader, output, opts.json === true, kind));
    });

  program
    .command('drift')
    .description('drift checks: each scheduled workspace\'s last-in-sync time, latest drift run and next slot; --now checks one at once')
    .argument('[workspace]', 'a workspace (repo/workspace, or the workspace name when unique)')
    .option(...configOption)
    .option('--now', 'queue a drift check of WORKSPACE now (the runner plans it like a scheduled one)')
    .option('--json', 'machine-readable output')
    .action(async (workspace: string | undefined, opts: { config: string; now?: boolean; json?: boolean }) => {
      const { driftCommand } = await import('./drift-commands.ts');
      code = await driftCommand(opts.config, output, workspace, opts);
    });

  program
    .command('show')
    .description('show one run: plan summary, tier, decision, audit trail')
    .argument('<run>', 'run id')
    .option(...configOption)
    .option('--json', 'machine-readable output')
    .action(async (run: string, opts: { config: string; json?: boolean }) => {
      const { showRun, withRunReader } = await import('./read-commands.ts');
      code = await withRunReader(opts.config, (reader) => showRun(reader, output, run, opts.json === true));
    });

  for (const decision of ['approve', 'deny'] as const) {
    program
      .command(decision)
      .description(`${decision} a run awaiting a decision (break-glass: recorded with your OS user)`)
      .argument('<run>', 'run id')
      .option(...configOption)
      .option('--confirm', 'give the second confirmation a destructive plan needs')
      .option('-y, --yes', 'do not ask before approving')
      .action(async (run: string, opts: { config: string; confirm?: boolean; yes?: boolean }) => {
        const { decideRun, withControlPlane } = await import('./run-commands.ts');
        code = await withControlPlane(opts.config, (cp) => decideRun(cp, output, run, decision, opts));
      });
  }

  program
    .command('cancel')
    .description('stop a run before its apply: planning, awaiting approval or approved (recorded with your OS user)')
    .argument('<run>', 'run id')
    .option(...configOption)
    .option('--reason <text>', 'why, for the audit record and `airlock show`')
    .action(async (run: string, opts: { config: string; reason?: string }) => {
      const { cancelCommand, withControlPlane } = await import('./run-commands.ts');
      code = await withControlPlane(opts.config, (cp) => cancelCommand(cp, output, run, opts));
    });

  program
    .command('replan')
    .description('plan a finished run\'s head again as a new attempt (operator only: recorded with your OS user)')
    .argument('<run>', 'run id (the newest attempt of its head)')
    .option(...configOption)
    .option('--reason <text>', 'why, for the audit record')
    .action(async (run: string, opts: { config: string; reason?: string }) => {
      const { replanCommand, withControlPlane } = await import('./run-commands.ts');
      code = await withControlPlane(opts.config, (cp) => replanCommand(cp, output, run, opts));
    });

  const audit = program.command('audit').description('verify, query and check the hash-chained audit trail');
  audit
    .command('verify')
    .description('check every record of the chain(s); exit 1 naming the first bad seq and why')
    .option(...configOption)
    .option('--file <path>', 'a chain file or an audit directory (default: the config\'s audit directory)')
    .option('--against <hash>', 'a head hash witnessed earlier: fail if it is no longer on the chain (truncation)')
    .option('--approvals', 're-verify every passkey approval offline, and list applies whose approval no passkey proves')
    .option('--require-proof', 'with --approvals: exit 1 when an apply rests on an approval no passkey proves')
    .option('--json', 'machine-readable output')
    .action(async (opts: { config: string; file?: string; against?: string; json?: boolean; approvals?: boolean; requireProof?: boolean }) => {
      const { auditTarget, verifyAudit } = await import('./audit-commands.ts');
      if (!opts.approvals) code = await verifyAudit(output, opts);
      else code = await (await import('./passkey-commands.ts')).verifyApprovals(output, await auditTarget(opts), opts);
    });
  audit
    .command('show')
    .description("every audit record of one run, across the chains")
    .requiredOption('--run <id>', 'run id')
    .option(...configOption)
    .option('--file <path>', 'a chain file or an audit directory')
    .option('--json', 'the records as stored, one JSON object a line')
    .action(async (opts: { config: string; file?: string; run: string; json?: boolean }) => {
      code = await (await import('./audit-commands.ts')).showAuditRun(output, opts);
    });
  audit
    .command('tail')
    .description('the newest audit records across the chains')
    .option(...configOption)
    .option('--file <path>', 'a chain file or an audit directory')
    .option('-n, --lines <n>', 'how many records', (v) => parsePositiveInt(v, '--lines'), 20)
    .option('--json', 'the records as stored, one JSON object a line')
    .action(async (opts: { config: string; file?: string; lines: number; json?: boolean }) => {
      code = await (await import('./audit-commands.ts')).tailAudit(output, opts);
    });
  audit
    .command('check')
    .description('find applies without a matching approval, approvals after expiry, agent and break-glass decisions; exit 1 on findings')
    .option(...configOption)
    .option('--file <path>', 'a chain file or an audit directory')
    .option('--json', 'machine-readable output')
    .action(async (opts: { config: string; file?: string; json?: boolean }) => {
      code = await (await import('./audit-commands.ts')).checkAudit(output, opts);
    });

  addPasskeyCommands(program, output, configOption, (c) => (code = c));

  program
    .command('doctor')
    .description('check the config, Redis, the engine, the data dir and the repos; say how to fix each problem')
    .option(...configOption)
    .action(async (opts: { config: string }) => {
      const { renderChecks, runDoctor } = await import('./doctor.ts');
      code = renderChecks(await runDoctor(opts.config), output);
    });

  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    return reportError(output, err);
  }
}
