// The `airlock passkey` command group: its commands and options only. What they do is in
// passkey-commands.ts, loaded when one of them runs (it brings the WebAuthn library).
import type { Command } from 'commander';
import type { Output } from './output.ts';

const commands = () => import('./passkey-commands.ts');

/** Add the `passkey` command group. */
export function addPasskeyCommands(program: Command, output: Output, configOption: readonly [string, string, string], setCode: (code: number) => void): void {
  const passkey = program.command('passkey').description('passkey (WebAuthn) approvals: the approval page, registering and listing keys');
  passkey
    .command('page')
    .description('write the static approval page to host on `approval.passkey.origin`')
    .option(...configOption)
    .option('-o, --out <file>', 'where to write it', 'airlock-approve.html')
    .action(async (opts: { config: string; out: string }) => setCode(await (await commands()).writePasskeyPage(output, opts)));
  passkey
    .command('register')
    .description("print a link that has an approver's device create a passkey")
    .requiredOption('--approver <name>', 'the approver (approval.ntfy.approvers[].name)')
    .option(...configOption)
    .action(async (opts: { config: string; approver: string }) => setCode(await (await commands()).printRegistrationLink(output, opts)));
  passkey
    .command('add')
    .description('import a registration file from the approval page (audited)')
    .requiredOption('--approver <name>', 'the approver the key is for')
    .argument('<file>', 'the registration file')
    .option(...configOption)
    .action(async (file: string, opts: { config: string; approver: string }) => setCode(await (await commands()).addPasskey(output, { ...opts, file })));
  passkey
    .command('list')
    .description('registered passkeys, per approver')
    .option(...configOption)
    .option('--json', 'machine-readable output')
    .action(async (opts: { config: string; json?: boolean }) => setCode(await (await commands()).listPasskeys(output, opts)));
  passkey
    .command('remove')
    .description('forget a passkey (audited)')
    .requiredOption('--approver <name>', 'the approver')
    .argument('<credential-id>', 'as `airlock passkey list` shows it')
    .option(...configOption)
    .action(async (credentialId: string, opts: { config: string; approver: string }) => setCode(await (await commands()).removePasskey(output, { ...opts, credentialId })));
}
