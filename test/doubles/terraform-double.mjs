#!/usr/bin/env node
// A stand-in for the terraform CLI (init, plan, show -json, apply, version, force-unlock) for
// configurations made only of `terraform_data` resources and variables, with test knobs read from its
// own environment. See README.md beside this file for what it models and what it does not.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { HclError } from './terraform-double/hcl.mjs';
import { deliver } from './terraform-double/sink.mjs';
import { loadConfig, renderConfiguration } from './terraform-double/config.mjs';
import { expandInstances, resolveVariables } from './terraform-double/eval.mjs';
import { fetchModules } from './terraform-double/modules.mjs';
import { applyChanges, finishReadsAndOutputs } from './terraform-double/apply.mjs';
import { checkConditions, planOutputs, planReads } from './terraform-double/reads.mjs';
import { StateError, acquireLock, lockInfoPath, parseDuration, readState, renderLockError, writeState } from './terraform-double/state.mjs';
import { PlanFileError, computeChanges, hasChanges, readPlanFile, renderPlannedValues, renderPriorState, renderResourceChanges, resourceContext, sortChanges, writePlanFile } from './terraform-double/plan.mjs';
import { renderPlanText } from './terraform-double/plan-text.mjs';
import { refreshState, settleRemote } from './terraform-double/drift.mjs';

const VERSION = '1.11.4-airlock-double';
const env = process.env;
const out = (s) => process.stdout.write(s);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class UsageError extends Error {}
class Exit extends Error {
  constructor(code) {
    super(`exit ${code}`);
    this.exitCode = code;
  }
}

let releaseHeldLock = () => {};

function diag(summary, detail, file, line) {
  let text = `\nError: ${summary}\n\n`;
  if (file) text += `  on ${file} line ${line}:\n\n`;
  if (detail) text += `${detail}\n`;
  process.stderr.write(text + '\n');
}

// ---- arguments ----

const FLAGS = {
  version: { json: 'bool' },
  init: { input: 'bool', 'no-color': 'bool', reconfigure: 'bool', upgrade: 'bool', 'migrate-state': 'bool', backend: 'bool', lock: 'bool', 'lock-timeout': 'value' },
  plan: { input: 'bool', 'no-color': 'bool', out: 'value', 'detailed-exitcode': 'bool', 'lock-timeout': 'value', lock: 'bool', refresh: 'bool' },
  show: { json: 'bool', 'no-color': 'bool' },
  apply: { input: 'bool', 'no-color': 'bool', 'lock-timeout': 'value', lock: 'bool', 'auto-approve': 'bool', refresh: 'bool' },
  'force-unlock': { force: 'bool' },
};

function parseArgs(command, args) {
  const spec = FLAGS[command];
  const flags = {};
  const positional = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('-') || a === '-') { positional.push(...args.slice(i)); break; }
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(a);
    const name = m[1];
    const kind = spec[name];
    if (!kind) throw new UsageError(`flag provided but not defined: -${name}`);
    if (kind === 'bool') {
      if (m[2] !== undefined && !['true', 'false', '1', '0'].includes(m[2])) throw new UsageError(`invalid boolean value "${m[2]}" for -${name}`);
      flags[name] = m[2] === undefined || m[2] === 'true' || m[2] === '1';
    } else if (m[2] !== undefined) flags[name] = m[2];
    else if (i + 1 < args.length) flags[name] = args[++i];
    else throw new UsageError(`flag needs an argument: -${name}`);
  }
  return { flags, positional };
}

function lockTimeoutMs(flags) {
  if (flags['lock-timeout'] === undefined) return 0;
  const ms = parseDuration(flags['lock-timeout']);
  if (Number.isNaN(ms)) throw new UsageError(`invalid value "${flags['lock-timeout']}" for flag -lock-timeout: parse error`);
  return ms;
}

// ---- knobs ----

const delayedCommands = () => (env.AIRLOCK_DOUBLE_DELAY_COMMANDS ?? 'plan,apply').split(',').map((s) => s.trim()).filter(Boolean);

/** For `apply PLANFILE`: the sha256 of the plan file's bytes, so a log can count applies per plan (test/chaos). */
function planFileDigest(command) {
  if (command !== 'apply') return {};
  const file = process.argv.slice(2).filter((a) => !a.startsWith('-')).at(-1);
  if (!file || file === 'apply') return { planSha256: null };
  try {
    return { planFile: resolve(file), planSha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
  } catch {
    return { planFile: resolve(file), planSha256: null };
  }
}

async function recordInvocation(command) {
  if (env.AIRLOCK_DOUBLE_LOG) {
    // startedAtMs: when this process began (performance.timeOrigin, epoch ms with sub-ms precision, the
    // clock Date uses); atMs: now, after node start-up. Benchmarks time spawns with them.
    const startedAtMs = performance.timeOrigin;
    const atMs = startedAtMs + performance.now();
    await deliver('append', env.AIRLOCK_DOUBLE_LOG, JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd(), pid: process.pid, time: new Date().toISOString(), startedAtMs, atMs, ...planFileDigest(command) }) + '\n');
  }
  if (env.AIRLOCK_DOUBLE_ENV_DUMP) {
    await deliver('write', join(env.AIRLOCK_DOUBLE_ENV_DUMP, `${command}-${process.pid}-${randomUUID().slice(0, 8)}.json`), JSON.stringify({ ...env }, null, 2));
  }
}

/**
 * Delay, hold, grandchild, stderr noise and injected failure, in that order, for `command`. `statePath`
 * (plan and apply, while the state lock is held): with AIRLOCK_DOUBLE_HOLD=1 the command waits while
 * `<state file>.hold` exists (up to two minutes). The state directory is shared into the sandbox, so a
 * test can hold an apply in progress and let it go without any sleep of its own.
 */
async function runKnobs(command, statePath) {
  if (env.AIRLOCK_DOUBLE_HOLD === '1' && statePath && delayedCommands().includes(command)) {
    const hold = `${resolve(process.cwd(), statePath)}.hold`;
    for (const until = Date.now() + 120_000; existsSync(hold) && Date.now() < until; ) await sleep(50);
  }
  if (delayedCommands().includes(command)) {
    if (env.AIRLOCK_DOUBLE_SPAWN_SLEEP) {
      const child = spawn('sleep', ['600'], { stdio: 'ignore' });
      child.unref();
      await deliver('write', env.AIRLOCK_DOUBLE_SPAWN_SLEEP, String(child.pid));
    }
    const ms = Number(env.AIRLOCK_DOUBLE_DELAY_MS ?? 0);
    if (ms > 0) await sleep(ms);
  }
  if (env.AIRLOCK_DOUBLE_STDERR && (command === 'plan' || command === 'apply')) process.stderr.write(env.AIRLOCK_DOUBLE_STDERR + '\n');
  if (env.AIRLOCK_DOUBLE_PRINT_ENV && (command === 'plan' || command === 'apply')) {
    for (const name of env.AIRLOCK_DOUBLE_PRINT_ENV.split(',').map((n) => n.trim()).filter(Boolean)) process.stderr.write(`${name}=${env[name] ?? ''}\n`);
  }
  const failing = (env.AIRLOCK_DOUBLE_FAIL ?? '').split(',').map((s) => s.trim());
  if (failing.includes(command)) {
    diag(`Injected failure (AIRLOCK_DOUBLE_FAIL=${env.AIRLOCK_DOUBLE_FAIL})`, `The Airlock terraform double was told to fail "${command}".`);
    throw new Exit(1);
  }
}

// ---- backend bookkeeping (.terraform/terraform.tfstate, as real terraform records it) ----

const BACKEND_RECORD = '.terraform/terraform.tfstate';

function readBackendRecord() {
  try {
    return JSON.parse(readFileSync(BACKEND_RECORD, 'utf8')).backend ?? null;
  } catch {
    return null;
  }
}

function hashOf(text) {
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h;
}

const REINIT_DETAIL = `The "backend" is the interface that Terraform uses to store state,
perform operations, etc. If this message is showing up, it means that the
Terraform configuration you're using is using a custom configuration for
the Terraform backend.

Changes to backend configurations require reinitialization. This allows
Terraform to set up the new configuration, copy existing state, etc. Please
run
"terraform init" with either the "-reconfigure" or "-migrate-state" flags to
use the current configuration.`;

function checkBackendInitialized(model) {
  const rec = readBackendRecord();
  if (!model.backend && !rec) return;
  let reason;
  if (model.backend && !rec) reason = `Initial configuration of the requested backend "${model.backend.type}"`;
  else if (!model.backend) reason = `Unsetting the previously set backend "${rec.type}"`;
  else if (rec.type !== model.backend.type || rec.config?.path !== model.backend.path) reason = 'Backend configuration block has changed';
  if (!reason) return;
  diag('Backend initialization required, please run "terraform init"', `Reason: ${reason}\n\n${REINIT_DETAIL}`);
  throw new Exit(1);
}

function loadModel() {
  const model = loadConfig(process.cwd());
  if (model.files.length === 0) {
    diag('No configuration files', 'Plan requires configuration to be present. Planning without a configuration would\nmark everything for destruction, which is normally not what is desired. If you\nwould like to destroy everything, run plan with the -destroy option. Otherwise,\ncreate a Terraform configuration file (.tf file) and try again.');
    throw new Exit(1);
  }
  return model;
}

const statePathOf = (model) => model.backend?.path ?? 'terraform.tfstate';

// ---- commands ----

function cmdVersion(flags) {
  if (flags.json) {
    out(JSON.stringify({ terraform_version: VERSION, platform: `${process.platform}_${process.arch === 'x64' ? 'amd64' : process.arch}`, provider_selections: {}, terraform_outdated: false }, null, 2) + '\n');
  } else {
    out(`Terraform v${VERSION}\non ${process.platform}_${process.arch === 'x64' ? 'amd64' : process.arch}\n`);
  }
}

async function cmdInit(flags) {
  await runKnobs('init');
  const model = loadConfig(process.cwd());
  out('Initializing the backend...\n');
  const rec = readBackendRecord();
  if (model.backend) {
    const changed = !rec || rec.type !== model.backend.type || rec.config?.path !== model.backend.path;
    if (changed && rec && !flags.reconfigure && !flags['migrate-state']) {
      diag('Backend configuration changed', 'A change in the backend configuration has been detected, which may require\nmigrating existing state.\n\nIf you wish to attempt automatic migration of the state, use "terraform init\n-migrate-state".\nIf you wish to store the current configuration with no changes to the state,\nuse "terraform init -reconfigure".');
      throw new Exit(1);
    }
    if (changed) {
      mkdirSync('.terraform', { recursive: true });
      const config = { path: model.backend.path, workspace_dir: null };
      const record = { version: 3, terraform_version: VERSION, backend: { type: model.backend.type, config, hash: hashOf(JSON.stringify(config)) } };
      writeFileSync(BACKEND_RECORD, JSON.stringify(record, null, 2) + '\n');
      out(`\nSuccessfully configured the backend "${model.backend.type}"! Terraform will automatically\nuse this backend unless the backend configuration changes.\n`);
    }
  } else if (rec) {
    rmSync(BACKEND_RECORD, { force: true });
    out(`Terraform has detected you're unconfiguring your previously set "${rec.type}" backend.\n`);
  }
  if (model.modules.size > 0) {
    out('Initializing modules...\n');
    fetchModules(model, process.cwd(), (line) => out(line));
  }
  out('Initializing provider plugins...\n- terraform.io/builtin/terraform is built in to Terraform\n\nTerraform has been successfully initialized!\n');
}

/** Evaluate config against state; the shared first half of plan and interactive apply. */
function planAgainstState(model) {
  if (model.modules.size > 0) {
    const [m] = model.modules.values();
    const [file, line] = m.where.split(' line ');
    throw new HclError('Unsupported block type', `Module calls are not modelled: the Airlock terraform double fetches modules at init but cannot plan them (module "${m.name}").`, file, Number(line));
  }
  const vars = resolveVariables(model, env);
  const instances = expandInstances(model, vars);
  const statePath = statePathOf(model);
  // the refresh: objects changed outside of terraform (terraform-double/drift.mjs)
  const { state, drift } = refreshState(process.cwd(), statePath, readState(process.cwd(), statePath));
  let changes = computeChanges(instances, state, model);
  for (const c of changes) {
    if (c.importing) out(`${c.address}: Preparing import... [id=${c.importing.id}]\n`);
    else if (c.priorId) out(`${c.address}: Refreshing state... [id=${c.priorId}]\n`);
  }
  const ctx = { vars, resources: resourceContext(changes) };
  const conditions = checkConditions(model, ctx);
  // A resource whose precondition failed is not planned; the rest of the plan is kept, and marked errored.
  changes = changes.filter((c) => !conditions.errors.some((e) => e.resource === `${c.type}.${c.name}`));
  const reads = planReads(model, ctx, process.cwd());
  changes = sortChanges([...changes, ...reads.changes]);
  const outputs = planOutputs(model, ctx, state);
  return { vars, state, statePath, changes, drift, outputs, errors: conditions.errors, warnings: [...conditions.warnings, ...reads.warnings] };
}

function printDiagnostics(kind, list) {
  for (const [summary, where, detail] of list) {
    const [file, line] = String(where ?? '').split(' line ');
    const text = `\n${kind}: ${summary}\n\n${file && line ? `  on ${file} line ${line}:\n\n` : where ? `  ${where}\n\n` : ''}${detail}\n\n`;
    process.stderr.write(text);
  }
}

async function withLock(flags, statePath, operation, fn) {
  if (flags.lock === false) return fn();
  const release = await acquireLock({ cwd: process.cwd(), statePath, operation, timeoutMs: lockTimeoutMs(flags), version: VERSION });
  releaseHeldLock = release;
  try {
    return await fn();
  } finally {
    release();
    releaseHeldLock = () => {};
  }
}

async function cmdPlan(flags) {
  lockTimeoutMs(flags);
  const model = loadModel();
  checkBackendInitialized(model);
  const statePath = statePathOf(model);
  return withLock(flags, statePath, 'OperationTypePlan', async () => {
    await runKnobs('plan');
    const { vars, state, changes, drift, outputs, errors, warnings } = planAgainstState(model);
    const errored = errors.length > 0;
    if (drift.length) out(`\nNote: Objects have changed outside of Terraform\n\n${drift.map((d) => `  # ${d.address} has ${d.actions[0] === 'delete' ? 'been deleted' : 'changed'}\n`).join('')}`);
    out(renderPlanText(changes, outputs.changes, errored));
    printDiagnostics('Warning', warnings);
    // terraform writes the plan file even when planning failed part-way: errored, never applyable.
    if (flags.out) {
      writePlanFile(flags.out, {
        terraform_version: VERSION,
        timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        state_path: statePath,
        prior: state ? { serial: state.serial, lineage: state.lineage } : { serial: 0, lineage: '' },
        prior_state: state,
        // Ephemeral variables are not saved: the apply must be given them again.
        variables: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v.ephemeral ? { ephemeral: true } : { value: v.value }])),
        configuration: renderConfiguration(model),
        changes,
        ...(drift.length ? { drift } : {}),
        outputs,
        errored,
      });
    }
    if (errored) {
      printDiagnostics('Error', errors.map((e) => e.diag));
      return 1;
    }
    return flags['detailed-exitcode'] && hasChanges(changes, outputs.changes) ? 2 : 0;
  });
}

function cmdShow(flags, positional) {
  if (!flags.json) throw new UsageError('the Airlock terraform double supports only "show -json"');
  if (positional.length === 0) {
    const rec = readBackendRecord();
    const state = readState(process.cwd(), rec?.config?.path ?? 'terraform.tfstate');
    const prior = renderPriorState(state, VERSION);
    out(JSON.stringify(prior ? { format_version: '1.0', terraform_version: VERSION, values: prior.values } : { format_version: '1.0' }) + '\n');
    return;
  }
  let plan;
  try {
    plan = readPlanFile(positional[0]);
  } catch (err) {
    if (!(err instanceof PlanFileError)) throw err;
    diag('Failed to read the given file as a state or plan file', `Plan read error: ${err.message}`);
    throw new Exit(1);
  }
  const doc = { format_version: '1.2', terraform_version: plan.terraform_version };
  const variables = Object.entries(plan.variables).filter(([, v]) => !v.ephemeral);
  if (variables.length) doc.variables = Object.fromEntries(variables.sort(([a], [b]) => (a < b ? -1 : 1)));
  const outputs = plan.outputs ?? { changes: {}, planned: {} };
  doc.planned_values = renderPlannedValues(plan.changes, outputs.planned);
  if (plan.drift?.length) doc.resource_drift = renderResourceChanges(plan.drift);
  if (plan.changes.length) doc.resource_changes = renderResourceChanges(plan.changes);
  if (Object.keys(outputs.changes).length) doc.output_changes = outputs.changes;
  const prior = renderPriorState(plan.prior_state, plan.terraform_version, plan.changes);
  if (prior) doc.prior_state = prior;
  doc.configuration = plan.configuration;
  const errored = plan.errored === true;
  Object.assign(doc, { timestamp: plan.timestamp, applyable: !errored && hasChanges(plan.changes, outputs.changes), complete: !errored, errored });
  out(JSON.stringify(doc) + '\n');
}

function staleness(plan, state) {
  const cur = state ? { serial: state.serial, lineage: state.lineage } : { serial: 0, lineage: '' };
  const firstPlan = plan.prior.lineage === '' && plan.prior.serial === 0;
  if (!firstPlan && plan.prior.lineage !== cur.lineage) {
    return ['Saved plan does not match the given state', 'The given plan file can not be applied because it was created from a different\nstate lineage.'];
  }
  if (plan.prior.serial !== cur.serial || (firstPlan && state)) {
    return ['Saved plan is stale', 'The given plan file can no longer be applied because the state was changed by\nanother operation after the plan was created.'];
  }
  return null;
}

async function cmdApply(flags, positional) {
  lockTimeoutMs(flags);
  if (positional.length > 1) throw new UsageError('Too many command line arguments. Expected at most one positional argument.');
  if (positional.length === 1) return applyPlanFile(flags, positional[0]);
  return applyInteractive(flags);
}

async function applyPlanFile(flags, file) {
  let plan;
  try {
    plan = readPlanFile(file);
  } catch (err) {
    if (!(err instanceof PlanFileError)) throw err;
    diag(`Failed to load "${file}" as a plan file`, `Error: ${err.message}`);
    throw new Exit(1);
  }
  if (plan.errored) {
    diag('Cannot apply incomplete plan', 'Terraform encountered an error when generating this plan, so it cannot be\napplied.');
    throw new Exit(1);
  }
  for (const [name, v] of Object.entries(plan.variables)) {
    if (!v.ephemeral) continue;
    if (env[`TF_VAR_${name}`] === undefined) {
      diag('No value for required variable', `The ephemeral input variable "${name}" was set during the plan phase, and so must\nalso be set during the apply phase.`);
      throw new Exit(1);
    }
    v.value = env[`TF_VAR_${name}`];
  }
  return withLock(flags, plan.state_path, 'OperationTypeApply', async () => {
    await runKnobs('apply', plan.state_path);
    const state = readState(process.cwd(), plan.state_path);
    const stale = staleness(plan, state);
    if (stale) {
      diag(stale[0], stale[1]);
      throw new Exit(1);
    }
    finishApply(plan.state_path, state, plan, loadConfig(process.cwd()));
    return 0;
  });
}

function finishApply(statePath, state, plan, model) {
  const outputs = plan.outputs?.changes ?? {};
  if (hasChanges(plan.changes, outputs)) {
    const { next, counts } = applyChanges(state, plan.changes, VERSION, out);
    const readsDone = finishReadsAndOutputs(next, plan, model, out);
    // what was applied before a deferred read failed stays applied, as in terraform
    writeState(process.cwd(), statePath, next, Boolean(state));
    settleRemote(process.cwd(), statePath, plan.changes);
    if (!readsDone) throw new Exit(1);
    const imported = counts.imported ? `${counts.imported} imported, ` : '';
    out(`\nApply complete! Resources: ${imported}${counts.added} added, ${counts.changed} changed, ${counts.destroyed} destroyed.\n`);
  } else {
    out('\nApply complete! Resources: 0 added, 0 changed, 0 destroyed.\n');
  }
}

// `apply` without a plan file: plan, ask, apply. Holding the lock while the prompt waits is what
// lets tests hold a real state lock with the same command against real terraform.
async function applyInteractive(flags) {
  const model = loadModel();
  checkBackendInitialized(model);
  const statePath = statePathOf(model);
  return withLock(flags, statePath, 'OperationTypeApply', async () => {
    await runKnobs('apply');
    const { vars, state, changes, outputs, errors } = planAgainstState(model);
    out(renderPlanText(changes, outputs.changes, errors.length > 0));
    if (errors.length > 0) {
      printDiagnostics('Error', errors.map((e) => e.diag));
      throw new Exit(1);
    }
    if (hasChanges(changes, outputs.changes) && !flags['auto-approve']) {
      out("\nDo you want to perform these actions?\n  Terraform will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
      const answer = await readLine();
      if (answer === null) {
        diag('error asking for approval: EOF');
        throw new Exit(1);
      }
      if (answer.trim() !== 'yes') {
        out('\nApply cancelled.\n');
        throw new Exit(1);
      }
    }
    const variables = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, { value: v.value }]));
    finishApply(statePath, state, { changes, outputs, variables }, model);
    return 0;
  });
}

function readLine() {
  return new Promise((resolveLine) => {
    const rl = createInterface({ input: process.stdin });
    let done = false;
    rl.once('line', (l) => { done = true; rl.close(); resolveLine(l); });
    rl.once('close', () => { if (!done) resolveLine(null); });
  });
}

function cmdForceUnlock(flags, positional) {
  const [id] = positional;
  if (!id) throw new UsageError('Expected a single argument: LOCK_ID');
  const rec = readBackendRecord();
  const path = lockInfoPath(process.cwd(), rec?.config?.path ?? 'terraform.tfstate');
  let held;
  try {
    held = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    diag('Failed to unlock state', 'No lock is held.');
    throw new Exit(1);
  }
  if (held.ID !== id) {
    diag('Failed to unlock state', `lock ID "${id}" does not match existing lock ID "${held.ID}"`);
    throw new Exit(1);
  }
  if (!flags.force) throw new UsageError('the Airlock terraform double requires -force for force-unlock');
  for (const f of [path, `${path}.pid`]) rmSync(f, { force: true });
  out('Terraform state has been successfully unlocked!\n');
}

// ---- main ----

function installSignalHandlers() {
  const onSignal = () => {
    if (env.AIRLOCK_DOUBLE_IGNORE_SIGTERM === '1') return;
    process.stderr.write('\nInterrupt received.\nPlease wait for Terraform to exit or data loss may occur.\nGracefully shutting down...\n');
    releaseHeldLock();
    process.exit(1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function main(argv) {
  let args = [...argv];
  while (args[0]?.startsWith('-chdir=')) {
    process.chdir(resolve(args[0].slice('-chdir='.length)));
    args = args.slice(1);
  }
  let [command, ...rest] = args;
  if (command === '-version' || command === '--version' || command === '-v') command = 'version';
  await recordInvocation(command ?? 'none');
  installSignalHandlers();
  if (!command || !(command in FLAGS)) {
    process.stderr.write(`Terraform has no command named "${command ?? ''}".\n\nTo see all of Terraform's top-level commands, run:\n  terraform -help\n\n`);
    return 1;
  }
  try {
    const { flags, positional } = parseArgs(command, rest);
    switch (command) {
      case 'version': await runKnobs('version'); cmdVersion(flags); return 0;
      case 'init': await cmdInit(flags); return 0;
      case 'plan': return await cmdPlan(flags);
      case 'show': await runKnobs('show'); cmdShow(flags, positional); return 0;
      case 'apply': return await cmdApply(flags, positional);
      case 'force-unlock': cmdForceUnlock(flags, positional); return 0;
    }
  } catch (err) {
    if (err instanceof Exit) return err.exitCode;
    if (err instanceof UsageError) {
      diag('Failed to parse command-line flags', `${err.message}\n\nFor more help on using this command, run:\n  terraform ${command} -help`);
      return 1;
    }
    if (err instanceof HclError) {
      diag(err.summary, err.detail, err.file || undefined, err.line);
      return 1;
    }
    if (err instanceof StateError) {
      if (err.extra?.lockInfo) process.stderr.write(renderLockError(err.extra.lockInfo));
      else diag(err.summary, err.detail);
      return 1;
    }
    throw err;
  }
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    releaseHeldLock();
    process.stderr.write(`\nError: Internal error in the Airlock terraform double\n\n${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
