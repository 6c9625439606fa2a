// The witness: the chain head leaves the host, so a later truncation or rewrite is detectable with
// `airlock audit verify --against HASH`. It is logged (a Loki pipeline keeps it) at start-up, every
// interval and after every apply, and optionally published to an ntfy topic. Each interval the chain is
// verified too; a failure is logged as an error for the alert rules in deploy/alerts/.
import path from 'node:path';
import type { Logger } from 'pino';
import { AirlockError } from '../errors.ts';
import type { Scrubber } from '../log/scrub.ts';
import { AUDIT_EVENTS } from './audit.ts';
import type { AuditLog } from './audit-log.ts';
import type { AuditConfig } from './config.ts';
import { publishWitness, type NtfyWitnessTarget } from './ntfy-witness.ts';
import { verifyChainFile } from './verify-files.ts';

export interface WitnessDeps {
  audit: AuditLog;
  /** Other chains to verify each interval, read-only (the CLI's `<id>-cli.jsonl`). */
  alsoVerify: string[];
  config: AuditConfig['witness'];
  log: Logger;
  scrubber: Scrubber;
  env?: NodeJS.ProcessEnv;
  /** Hears each witnessing of the head (metrics: its age), and whether the chains verified before it. */
  onWitness?(at: Date, verified: boolean | undefined): void;
}

/** The ntfy target of the witness config, with its token read from the environment (and scrubbed from all output). */
export function witnessTarget(config: AuditConfig['witness'], scrubber: Scrubber, env: NodeJS.ProcessEnv = process.env): NtfyWitnessTarget | null {
  if (!config.ntfy) return null;
  const { url, topic, tokenEnv } = config.ntfy;
  if (!tokenEnv) return { url, topic };
  const token = env[tokenEnv];
  if (!token) {
    throw new AirlockError('airlock:witness-token-missing', `\`audit.witness.ntfy.tokenEnv\` names ${tokenEnv}, which is not set`, {
      hint: `Set ${tokenEnv} in the runner's environment (e.g. an EnvironmentFile in the systemd unit), or remove tokenEnv.`,
    });
  }
  scrubber.add(token);
  return { url, topic, token };
}

/** The runner's witness: `start()` verifies and witnesses, then repeats every interval; `afterApply()` after each apply. */
export function createWitness(deps: WitnessDeps) {
  const target = witnessTarget(deps.config, deps.scrubber, deps.env);
  // Witness lines are info, but must reach Loki whatever `log.level` says: a missing line is an alert.
  const log = deps.log.child({ component: 'audit' }, { level: 'info' });
  const chain = path.basename(deps.audit.file);
  const inFlight = new Set<Promise<unknown>>();
  let timer: NodeJS.Timeout | null = null;

  function track<T>(p: Promise<T>): void {
    inFlight.add(p);
    void p.catch((err: unknown) => log.error({ err }, 'audit witness failed')).finally(() => inFlight.delete(p));
  }

  /** Verify the runner's own chain up to its acknowledged end, and the other chains up to a line being written. */
  async function verify(): Promise<boolean> {
    let allOk = true;
    const own = { file: deps.audit.file, end: deps.audit.bytes, ignorePartialTail: false };
    for (const c of [own, ...deps.alsoVerify.map((file) => ({ file, end: undefined, ignorePartialTail: true }))]) {
      const result = await verifyChainFile(c.file, { ignorePartialTail: c.ignorePartialTail, ...(c.end === undefined ? {} : { end: c.end }) });
      const name = path.basename(c.file);
      if (result.ok) {
        log.debug({ event: AUDIT_EVENTS.verified, chain: name, records: result.records, head: result.head.hash }, 'audit chain verified');
      } else {
        allOk = false;
        const { seq, reason, line, message } = result.break;
        log.error({ event: AUDIT_EVENTS.verifyFailed, chain: name, seq, reason, line, detail: message }, `audit chain verify failed: ${name} seq ${seq} ${reason}`);
      }
    }
    return allOk;
  }

  async function witness(reason: 'start' | 'interval' | 'apply', extra: Record<string, unknown> = {}, verified?: boolean): Promise<void> {
    const head = deps.audit.head;
    log.info({ event: AUDIT_EVENTS.witness, reason, chain, seq: head.seq, head: head.hash, ...(verified === undefined ? {} : { verified }), ...extra }, 'audit head witnessed');
    deps.onWitness?.(new Date(), verified);
    if (!target) return;
    // Published in the background: a slow ntfy server must not hold up start-up or an apply's end.
    track(
      publishWitness(target, `airlock audit head: ${chain}`, `${chain} seq ${head.seq} sha256 ${head.hash} (${reason})`).catch((err: unknown) => {
        log.warn({ event: AUDIT_EVENTS.publishFailed, err }, 'could not publish the audit head to ntfy; the log line still carries it');
      }),
    );
  }

  async function tick(reason: 'start' | 'interval'): Promise<void> {
    const verified = await verify();
    await witness(reason, {}, verified);
  }

  return {
    verify,
    /** Verify, witness once, then keep witnessing every interval. */
    async start(): Promise<void> {
      await tick('start');
      timer = setInterval(() => track(tick('interval')), deps.config.interval);
      timer.unref();
    },
    /** Witness the head right after an apply reached its end. */
    afterApply(runId: string): void {
      track(witness('apply', { runId }));
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      await Promise.allSettled([...inFlight]);
    },
  };
}

export type Witness = ReturnType<typeof createWitness>;
