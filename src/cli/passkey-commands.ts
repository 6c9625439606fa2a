// `airlock passkey page|register|add|list|remove` and `airlock audit verify --approvals`: passkey approvals
// on the runner host (src/approve/passkey/). Registration and removal go on the CLI's audit chain with the
// public key, so the chains alone can re-verify every passkey approval offline.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PasskeyConfig } from '../approve/passkey/config.ts';
import { buildApprovalPage } from '../approve/passkey/page.ts';
import { readRegistration, registrationLink } from '../approve/passkey/registration.ts';
import { PasskeyStore, passkeyStoreFile } from '../approve/passkey/store.ts';
import { PASSKEY_RECORD, verifyApprovalProofs } from '../approve/passkey/verify-approvals.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { auditDir, readChainRecords } from '../audit/read-audit.ts';
import { verifyChains } from '../audit/verify-files.ts';
import { loadConfig, type LoadedConfig } from '../config/load.ts';
import { AirlockError } from '../errors.ts';
import { scrubber } from '../log/scrub.ts';
import { visibleText } from '../lib/untrusted-text.ts';
import { renderJson, type Output } from './output.ts';
import { osActor } from './actor.ts';

function passkeyConfig(loaded: LoadedConfig): PasskeyConfig {
  const config = loaded.config.approval.passkey;
  if (!config) throw new AirlockError('airlock:passkey-not-configured', `${loaded.file}: \`approval.passkey\` is not set`, { hint: 'Set `approval.passkey.origin` to the HTTPS origin that will host the approval page (see runners/example.yaml).' });
  return config;
}

function approverOf(loaded: LoadedConfig, name: string): string {
  const names = loaded.config.approval.ntfy?.approvers.map((a) => a.name) ?? [];
  if (!names.includes(name)) throw new AirlockError('airlock:passkey-approver', `no approver named ${JSON.stringify(visibleText(name, 64))} in ${loaded.file}`, { hint: `Approvers: ${names.join(', ') || 'none (set approval.ntfy.approvers)'}.` });
  return name;
}

async function withCliAudit<T>(loaded: LoadedConfig, fn: (audit: AuditLog) => Promise<T>): Promise<T> {
  const dir = auditDir(loaded.config.runner.dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const audit = await AuditLog.open(path.join(dir, `${loaded.config.runner.id}-cli.jsonl`), { scrubber, lockWaitMs: 10_000, runnerId: loaded.config.runner.id });
  try {
    return await fn(audit);
  } finally {
    await audit.close();
  }
}

/** `passkey page`: the static approval page, written to `out`. */
export async function writePasskeyPage(output: Output, opts: { config: string; out: string }): Promise<number> {
  const loaded = await loadConfig(opts.config);
  const config = passkeyConfig(loaded);
  const ntfy = loaded.config.approval.ntfy;
  if (!ntfy) throw new AirlockError('airlock:passkey-not-configured', 'the page answers on ntfy: set `approval.channel: ntfy` and `approval.ntfy`', { hint: 'See runners/example.yaml.' });
  await writeFile(opts.out, await buildApprovalPage(ntfy.url), { mode: 0o644 });
  output.out(`wrote ${opts.out}: host it as ${config.origin}${config.page}`);
  return 0;
}

/** `passkey register`: the link that has an approver's device create a passkey. */
export async function printRegistrationLink(output: Output, opts: { config: string; approver: string }): Promise<number> {
  const loaded = await loadConfig(opts.config);
  const { url } = registrationLink(passkeyConfig(loaded), approverOf(loaded, opts.approver));
  output.out(`Open this on ${opts.approver}'s device, then import the file it gives with \`airlock passkey add --approver ${opts.approver} FILE\`:\n${url}`);
  return 0;
}

/** `passkey add`: check a registration file from the page and store its key for the approver (audited). */
export async function addPasskey(output: Output, opts: { config: string; approver: string; file: string }): Promise<number> {
  const loaded = await loadConfig(opts.config);
  const approver = approverOf(loaded, opts.approver);
  const credential = await readRegistration(await readFile(opts.file, 'utf8'), approver, passkeyConfig(loaded));
  await mkdir(loaded.config.runner.dataDir, { recursive: true, mode: 0o700 });
  await new PasskeyStore(passkeyStoreFile(loaded.config.runner.dataDir)).add(credential);
  await withCliAudit(loaded, (audit) => audit.append({ type: PASSKEY_RECORD.added, run: null, actor: osActor(), detail: { approver, credentialId: credential.credentialId, credential } }));
  output.out(`added passkey ${credential.credentialId} for ${approver} (RP ID ${credential.rpId})`);
  return 0;
}

/** `passkey remove`: forget one credential of an approver (audited). */
export async function removePasskey(output: Output, opts: { config: string; approver: string; credentialId: string }): Promise<number> {
  const loaded = await loadConfig(opts.config);
  const gone = await new PasskeyStore(passkeyStoreFile(loaded.config.runner.dataDir)).remove(opts.approver, opts.credentialId);
  if (!gone) throw new AirlockError('airlock:passkey-unregistered', `${visibleText(opts.approver, 64)} has no passkey ${visibleText(opts.credentialId, 100)}`, { hint: 'See `airlock passkey list`.' });
  await withCliAudit(loaded, (audit) => audit.append({ type: PASSKEY_RECORD.removed, run: null, actor: osActor(), detail: { approver: gone.approver, credentialId: gone.credentialId } }));
  output.out(`removed passkey ${gone.credentialId} of ${gone.approver}`);
  return 0;
}

/** `passkey list`: every registered credential, and each approver's mode. */
export async function listPasskeys(output: Output, opts: { config: string; json?: boolean }): Promise<number> {
  const loaded = await loadConfig(opts.config);
  const all = await new PasskeyStore(passkeyStoreFile(loaded.config.runner.dataDir)).list();
  if (opts.json) {
    output.out(renderJson(all.map(({ publicKey: _k, ...c }) => c)));
    return 0;
  }
  for (const a of loaded.config.approval.ntfy?.approvers ?? []) {
    const mine = all.filter((c) => c.approver === a.name);
    output.out(`${a.name}  passkey ${a.passkey}  ${mine.length} registered`);
    for (const c of mine) output.out(`  ${c.credentialId}  counter ${c.counter}  ${c.rpId}  added ${c.addedAt}`);
  }
  return 0;
}

/** `audit verify --approvals`: re-verify every recorded passkey signature; list applies without a proven approval. */
export async function verifyApprovals(output: Output, target: string, opts: { json?: boolean; requireProof?: boolean }): Promise<number> {
  const reports = await verifyChains(target);
  const { proofs, applies } = await verifyApprovalProofs(await readChainRecords(target));
  const bad = proofs.filter((p) => !p.ok);
  const unproven = applies.filter((a) => !a.proven);
  const chainsBad = reports.filter((r) => !r.result.ok);
  if (opts.json) output.out(renderJson({ ok: bad.length === 0 && chainsBad.length === 0 && (!opts.requireProof || unproven.length === 0), chains: reports.map((r) => ({ chain: r.chain, ok: r.result.ok })), proofs, applies }));
  else {
    for (const r of chainsBad) output.out(`FAIL  chain ${r.chain} does not verify (\`airlock audit verify\`)`);
    for (const p of proofs) {
      const where = `${p.chain}#${p.seq} ${p.type} run ${p.run ?? '-'} by ${p.approver ?? '?'}`;
      output.out(p.ok ? `ok    ${where}: passkey ${p.credentialId}` : `FAIL  ${where}: ${p.code} ${p.message}`);
    }
    for (const a of applies) output.out(`${a.proven ? 'ok   ' : 'note '} apply of run ${a.run} (${a.chain}#${a.seq}): ${a.proven ? 'approval proven by passkey' : 'approval not proven by a passkey (a tap or break-glass)'}`);
    output.out(`${proofs.length - bad.length} of ${proofs.length} passkey signature(s) verify; ${applies.length - unproven.length} of ${applies.length} apply(s) rest on a proven approval`);
  }
  return bad.length > 0 || chainsBad.length > 0 || (opts.requireProof && unproven.length > 0) ? 1 : 0;
}
