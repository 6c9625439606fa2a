// Quiet by default: whether a drift run's findings are news. The fingerprint (plan/drift-fingerprint.ts:
// drifted addresses, actions and attribute paths, and the plan's own changes; never a value) is compared
// with the one last told for the workspace. New or changed drift is told; the same drift again is not,
// until it changes or the workspace is found in sync (which forgets the fingerprint). Pure.
import type { DriftNotice, Run } from '../run/run.ts';

/** What the workspace's drift status remembers of the last drift told. */
export interface ToldDrift {
  fingerprint?: string | undefined;
  notifiedRun?: string | undefined;
  notifiedAt?: string | undefined;
}

/** Told or not, and why; `told` is null when the stored status could not be read (quarantined). */
export function noticeFor(told: ToldDrift | null, fingerprint: string, run: Pick<Run, 'id' | 'attempt'>): DriftNotice {
  const notified = (reason: string): DriftNotice => ({ outcome: 'notified', reason, fingerprint });
  if (told === null) return notified('the stored drift status was not readable (quarantined), so this drift is told');
  if ((run.attempt ?? 1) > 1) return notified('replanned by hand (`airlock replan`): told again');
  if (told.fingerprint === undefined) return notified('new drift: the last check found the workspace in sync, or there was none');
  // This run told it already, and its plan job is running again (a retry after a failure): still told.
  if (told.notifiedRun === run.id && told.fingerprint === fingerprint) return notified('told by this run before its plan job was retried');
  const last = `run ${told.notifiedRun ?? '?'} at ${told.notifiedAt ?? '?'}`;
  if (told.fingerprint !== fingerprint) return notified(`the drift changed since it was told (${last})`);
  return { outcome: 'suppressed', reason: `the same drift as told by ${last} (fingerprint ${fingerprint.slice(0, 12)})`, fingerprint };
}
