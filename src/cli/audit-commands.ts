// `airlock audit verify|show|tail|check`: reading the audit chains on the runner host. None of them
// needs Redis or writes anything; `verify --file` does not even need a config.
import { stat } from 'node:fs/promises';
import type { AuditRecord } from '../audit/audit.ts';
import { agentForApprover } from '../audit/attribution.ts';
import { checkChain, type ChainRecord } from '../audit/check.ts';
import { auditDir, readChainRecords, tailChainRecords } from '../audit/read-audit.ts';
import { readVerifiedRecords, verifyChains } from '../audit/verify-files.ts';
import { loadConfig } from '../config/load.ts';
import { AirlockError } from '../errors.ts';
import { visibleText } from '../lib/untrusted-text.ts';
import { renderJson, type Output } from './output.ts';

export interface AuditTargetOptions {
  config: string;
  file?: string;
}

interface AuditTarget {
  target: string;
  agents: Record<string, string>;
  /** `approval.channel`, when a config was loaded. */
  channel?: string;
}

/** The chain file or directory a command reads, and the config's agent map and channel when a config was loaded. */
async function resolveTarget(opts: AuditTargetOptions): Promise<AuditTarget> {
  if (opts.file) {
    const info = await stat(opts.file).catch(() => null);
    if (!info) throw new AirlockError('airlock:audit-missing', `no audit chain at ${opts.file}`, { hint: 'Pass a chain file (`<runner-id>.jsonl`) or the audit directory under the runner data dir.' });
    const config = await loadConfig(opts.config).then((l) => l.config, () => null);
    return { target: opts.file, agents: config?.audit.agents ?? {}, ...(config ? { channel: config.approval.channel } : {}) };
  }
  const { config } = await loadConfig(opts.config);
  return { target: auditDir(config.runner.dataDir), agents: config.audit.agents, channel: config.approval.channel };
}

/** The chain file or audit directory a command reads (`--file`, else the config's audit directory). */
export async function auditTarget(opts: AuditTargetOptions): Promise<string> {
  return (await resolveTarget(opts)).target;
}

/** `audit verify`: exit 0 with each chain's record count and head; exit 1 naming the first bad seq and why. */
export async function verifyAudit(output: Output, opts: AuditTargetOptions & { against?: string; json?: boolean }): Promise<number> {
  const { target } = await resolveTarget(opts);
  const against = opts.against?.trim().toLowerCase();
  if (against !== undefined && !/^[0-9a-f]{64}$/.test(against)) {
    throw new AirlockError('airlock:bad-against', `--against must be a 64-hex head hash, got ${JSON.stringify(visibleText(opts.against ?? '', 80))}`, {
      hint: 'Use the `head` of an `audit.witness` log line or of an earlier `airlock audit verify`.',
    });
  }
  const reports = await verifyChains(target, against ? { against } : {});
  const failed = reports.filter((r) => !r.result.ok);
  const againstMissing = against !== undefined && !reports.some((r) => r.result.againstFound);
  if (opts.json) {
    output.out(JSON.stringify({ ok: failed.length === 0 && !againstMissing && reports.length > 0, chains: reports.map((r) => ({ chain: r.chain, file: r.file, ...r.result })) }, null, 2));
  } else {
    if (reports.length === 0) output.err(`no audit chains under ${target}`);
    for (const { chain, result } of reports) {
      if (result.ok) output.out(`ok    ${chain}  ${result.records} records  head ${result.head.hash}`);
      else output.out(`FAIL  ${chain}  seq ${result.break.seq} ${result.break.reason}: ${result.break.message}`);
    }
    if (against !== undefined) {
      const where = reports.filter((r) => r.result.againstFound).map((r) => r.chain);
      if (where.length > 0) output.out(`ok    --against ${against} is on ${where.join(', ')}`);
      else {
        const ends = reports.map((r) => `${r.chain} ends at seq ${r.result.head.seq}`).join(', ');
        output.out(`FAIL  --against ${against} is not on the chain (${ends}): records after it were removed (truncated), or the chain was rewritten`);
      }
    }
  }
  return failed.length > 0 || againstMissing || reports.length === 0 ? 1 : 0;
}

/** `audit show --run ID`: every record of one run, across chains, oldest first. */
export async function showAuditRun(output: Output, opts: AuditTargetOptions & { run: string; json?: boolean }): Promise<number> {
  const { target } = await resolveTarget(opts);
  const onChains = await readChainRecords(target, { run: opts.run });
  const records = onChains.map((cr) => cr.record);
  if (records.length === 0) {
    output.err(`no audit records for run ${visibleText(opts.run, 80)}`);
    return 1;
  }
  if (opts.json) {
    for (const r of records) output.out(renderJson(r, { oneLine: true }));
    return 0;
  }
  const last = records.at(-1)!;
  const s = [...records].reverse().find((r) => r.subject)?.subject;
  if (s) {
    output.out(`run ${last.run}  ${visibleText(s.repo)}/${visibleText(s.workspace)}  ${s.pr === null ? visibleText(s.ref, 60) : `PR #${s.pr}`}  sha ${s.sha}`);
    const agent = records.map((r) => r.subject?.agent).find((a) => a !== undefined);
    if (s.author !== undefined) output.out(`  proposed by ${agent ? `agent ${visibleText(agent)}` : 'no mapped agent'}; author ${visibleText(s.author, 120)}, committer ${visibleText(s.committer ?? '?', 120)}`);
  }
  const plan = [...records].reverse().find((r) => r.plan)?.plan;
  if (plan) output.out(`  plan sha256 ${plan.sha256}  tier ${plan.tier ?? '?'}${plan.fingerprint ? `  fingerprint ${plan.fingerprint}` : ''}`);
  renderChainLines(output, onChains);
  return 0;
}

/** Records from several chains, oldest first, each named `chain#seq` (seq numbers are per chain). */
function renderChainLines(output: Output, records: ChainRecord[]): void {
  const chains = [...new Set(records.map((cr) => cr.chain))].sort();
  output.out(`  chains: ${chains.map((c) => `${c} (${c.endsWith('-cli.jsonl') ? 'the CLI on the runner host' : 'the runner'})`).join(', ')}`);
  const width = Math.max(...records.map((cr) => `${cr.chain}#${cr.record.seq}`.length));
  for (const { chain, record } of records) output.out(renderRecordLine(record, `${chain}#${record.seq}`.padEnd(width)));
}

/** `audit tail`: the newest records across chains. */
export async function tailAudit(output: Output, opts: AuditTargetOptions & { lines: number; json?: boolean }): Promise<number> {
  const { target } = await resolveTarget(opts);
  const records = await tailChainRecords(target, opts.lines);
  if (opts.json) for (const { record } of records) output.out(renderJson(record, { oneLine: true }));
  else if (records.length > 0) renderChainLines(output, records);
  return 0;
}

/** `audit check`: applies without a matching approval, approvals after expiry, agent and break-glass decisions. */
export async function checkAudit(output: Output, opts: AuditTargetOptions & { json?: boolean }): Promise<number> {
  const { target, agents, channel } = await resolveTarget(opts);
  const { records, reports } = await readVerifiedRecords(target, { ignorePartialTail: true });
  const findings = checkChain(records, { agentFor: (id) => agentForApprover(agents, id), ...(channel ? { configuredChannel: channel } : {}) });
  const damaged = reports.filter((r) => !r.result.ok);
  if (opts.json) {
    output.out(JSON.stringify({ ok: findings.length === 0 && damaged.length === 0, findings, damaged: damaged.map((d) => ({ chain: d.chain, ...(d.result.ok ? {} : d.result.break) })) }, null, 2));
  } else {
    for (const d of damaged) if (!d.result.ok) output.out(`${'chain-damaged'.padEnd(23)} ${d.chain} seq ${d.result.break.seq} ${d.result.break.reason}: records after it were not checked (run \`airlock audit verify\`)`);
    for (const f of findings) output.out(`${f.kind.padEnd(23)} ${f.chain} seq ${f.seq}  ${f.time}  ${visibleText(f.message, 300)}`);
    if (findings.length === 0 && damaged.length === 0) output.out(`no findings in ${records.length} records on ${reports.length} chain(s)`);
  }
  return findings.length > 0 || damaged.length > 0 ? 1 : 0;
}

const SHOWN_DETAIL = ['outcome', 'reason', 'code', 'channel', 'approver', 'breakGlass', 'agent', 'matchedBy', 'fingerprint', 'expiresAt', 'supersededBy', 'replanOf', 'note', 'movedTo', 'bytes'];

/** One record as a line: where (`chain#seq`), time, type, actor, and the detail fields a reader looks for. */
export function renderRecordLine(r: AuditRecord, where = String(r.seq).padStart(6)): string {
  const detail = SHOWN_DETAIL.filter((k) => r.detail?.[k] !== undefined && r.detail[k] !== null)
    .map((k) => `${k}=${visibleText(String(r.detail![k]), 160)}`)
    .join(' ');
  return `${where}  ${r.time}  ${r.type.padEnd(22)} ${r.actor.kind}:${visibleText(r.actor.id, 80)}${r.run ? `  ${r.run}` : ''}${detail ? `  ${detail}` : ''}`;
}
