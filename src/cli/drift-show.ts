// What `airlock show` says of a drift run beyond any run's detail. Pure.
import { flaggedText, visibleText } from '../lib/untrusted-text.ts';
import type { Run } from '../run/run.ts';

/** `airlock show` of a drift run: the slot, whether the drift was told, what it did about a held lock. */
export function driftDetailLines(run: Run): string[] {
  const lines = [`  drift check of ${flaggedText(run.ref)} for the slot ${run.driftSlot}: finds what changed outside of Airlock; applying re-converges`];
  const lock = run.driftLock;
  if (lock?.outcome === 'skipped') lines.push(`  SKIPPED: the workspace lock was held${lock.holder ? ` by ${visibleText(lock.holder, 200)}` : ''}${lock.whenLocked === 'wait' ? ` after waiting ${Math.round(lock.waitedMs / 1000)} s` : ''} (drift.whenLocked: ${lock.whenLocked}); the next slot checks again`);
  if (lock?.outcome === 'waited') lines.push(`  waited ${Math.round(lock.waitedMs / 1000)} s for the workspace lock${lock.holder ? ` (held by ${visibleText(lock.holder, 200)})` : ''} (drift.whenLocked: wait)`);
  const notice = run.driftNotice;
  if (notice?.outcome === 'notified') lines.push(`  drift notice: told (${visibleText(notice.reason, 300)}); fingerprint ${notice.fingerprint.slice(0, 12)}`);
  if (notice?.outcome === 'suppressed') lines.push(`  NOT TOLD AGAIN: ${visibleText(notice.reason, 300)}; nobody was asked. \`airlock replan ${run.id}\` asks for a decision`);
  return lines;
}
