// Every error code Airlock emits, in one place: machines match on these strings (alerts, `airlock show`,
// the audit log), so they are a contract. `retryable` says whether a failed plan is worth another attempt
// (a host outage: yes; a refusal or a broken plan: no). An apply is never retried, whatever the code.

export const ERROR_CODES = {
  // CLI input
  'airlock:bad-against': { retryable: true },
  'airlock:bad-run-id': { retryable: true },
  // Redis
  'airlock:redis-data-lost': { retryable: true },
  'airlock:redis-evicts': { retryable: true },
  'airlock:redis-record-invalid': { retryable: true },
  'airlock:redis-unreachable': { retryable: true },
  // Vault/OpenBao credentials
  'airlock:vault-bad-login': { retryable: false },
  'airlock:vault-ca-file': { retryable: false },
  'airlock:vault-error': { retryable: false },
  'airlock:vault-missing-key': { retryable: false },
  'airlock:vault-missing-path': { retryable: false },
  'airlock:vault-not-configured': { retryable: false },
  'airlock:vault-permission-denied': { retryable: false },
  'airlock:vault-sealed': { retryable: true },
  'airlock:vault-secret-id-spent': { retryable: false },
  'airlock:vault-secret-id-file': { retryable: false },
  'airlock:vault-server-error': { retryable: true },
  'airlock:vault-unreachable': { retryable: true },
  'airlock:vault-unwrap-failed': { retryable: false },
  // apply
  'airlock:apply-error': { retryable: true },
  'airlock:apply-not-started': { retryable: true },
  'airlock:apply-refused': { retryable: true },
  'airlock:apply-unapproved': { retryable: true },
  'airlock:lock-lost': { retryable: true },
  // approval
  'airlock:approval-refused': { retryable: true },
  'airlock:approve-needs-yes': { retryable: true },
  'airlock:seal-key': { retryable: true },
  'airlock:token-file': { retryable: true },
  // audit log
  'airlock:audit-closed': { retryable: true },
  'airlock:audit-corrupt': { retryable: true },
  'airlock:audit-locked': { retryable: true },
  'airlock:audit-missing': { retryable: true },
  'airlock:audit-unwritable': { retryable: true },
  'airlock:audit-write-failed': { retryable: true },
  // audit witness
  'airlock:witness-publish': { retryable: true },
  'airlock:witness-token-missing': { retryable: true },
  // checkout
  'airlock:bad-remote-url': { retryable: true },
  'airlock:bad-sha': { retryable: false },
  'airlock:checkout-failed': { retryable: true },
  'airlock:checkout-refused': { retryable: false },
  'airlock:commit-gone': { retryable: false },
  'airlock:fetch-failed': { retryable: true },
  // config
  'airlock:config-invalid': { retryable: true },
  'airlock:repo-unknown': { retryable: true },
  // credentials
  'airlock:credentials-error': { retryable: true },
  // data dir
  'airlock:path-escape': { retryable: true },
  'airlock:untrusted-file': { retryable: true },
  // demo
  'airlock:demo-failed': { retryable: true },
  'airlock:demo-timeout': { retryable: true },
  // engine
  'airlock:engine-cwd': { retryable: true },
  'airlock:engine-env': { retryable: false },
  'airlock:engine-failed': { retryable: false },
  'airlock:engine-killed': { retryable: true },
  'airlock:engine-not-found': { retryable: false },
  'airlock:engine-output': { retryable: true },
  'airlock:engine-timeout': { retryable: true },
  'airlock:engine-unusable': { retryable: true },
  'airlock:state-locked': { retryable: true },
  // engine sandbox
  'airlock:sandbox-start': { retryable: true },
  'airlock:sandbox-unavailable': { retryable: false },
  // guard
  'airlock:guard-refused': { retryable: false },
  // ntfy
  'airlock:ntfy-anonymous-access': { retryable: true },
  'airlock:ntfy-approver': { retryable: true },
  'airlock:ntfy-auth-lockout': { retryable: true },
  'airlock:ntfy-deliver': { retryable: true },
  'airlock:ntfy-error': { retryable: true },
  'airlock:ntfy-forbidden': { retryable: true },
  'airlock:ntfy-rate-limited': { retryable: true },
  'airlock:ntfy-too-many-subscriptions': { retryable: true },
  'airlock:ntfy-unauthorized': { retryable: true },
  'airlock:ntfy-unreachable': { retryable: true },
  // plan
  'airlock:plan-ended': { retryable: true },
  'airlock:plan-error': { retryable: true },
  'airlock:plan-json': { retryable: false },
  'airlock:plan-stale': { retryable: true },
  'airlock:plan-view': { retryable: true },
  // runs
  'airlock:illegal-transition': { retryable: true },
  'airlock:replan-refused': { retryable: true },
  'airlock:run-contended': { retryable: true },
  'airlock:run-invalid': { retryable: true },
  'airlock:run-not-found': { retryable: true },
  'airlock:superseded': { retryable: true },
  'airlock:plan-stopped': { retryable: false },
  'airlock:cancel-refused': { retryable: false },
  // start-up
  'airlock:data-dir-unsafe': { retryable: true },
  'airlock:data-dir-unusable': { retryable: true },
  // watch
  'airlock:ls-remote-failed': { retryable: true },
  // workspaces
  'airlock:workspace-busy': { retryable: true },
  'airlock:workspace-missing': { retryable: false },
  'airlock:workspace-unknown': { retryable: true },
  // passkey, metrics, drift, forge reporting, fault recovery
  'airlock:passkey-approver': { retryable: false },
  'airlock:passkey-challenge': { retryable: false },
  'airlock:passkey-counter-regression': { retryable: false },
  'airlock:passkey-malformed': { retryable: false },
  'airlock:passkey-not-configured': { retryable: false },
  'airlock:passkey-origin': { retryable: false },
  'airlock:passkey-registration': { retryable: false },
  'airlock:passkey-required': { retryable: false },
  'airlock:passkey-rpid': { retryable: false },
  'airlock:passkey-signature': { retryable: false },
  'airlock:passkey-store': { retryable: false },
  'airlock:passkey-unregistered': { retryable: false },
  'airlock:passkey-user-presence': { retryable: false },
  'airlock:passkey-user-verification': { retryable: false },
  'airlock:plan-interrupted': { retryable: false },
  'airlock:metrics-listen': { retryable: false },
  'airlock:vault-revoke-failed': { retryable: false },
  'airlock:bad-option': { retryable: false },
  'airlock:drift-ambiguous': { retryable: false },
  'airlock:drift-not-configured': { retryable: false },
  'airlock:report-backlog-full': { retryable: false },
  'airlock:report-unsent': { retryable: false },
  // forge reporting: worth another try later when the forge is down or asks us to slow down
  'airlock:forge-auth': { retryable: false },
  'airlock:forge-forbidden': { retryable: false },
  'airlock:forge-invalid': { retryable: false },
  'airlock:forge-not-found': { retryable: false },
  'airlock:forge-rate-limited': { retryable: true },
  'airlock:forge-unavailable': { retryable: true },
} as const satisfies Record<`airlock:${string}`, { retryable: boolean }>;

export type AirlockCode = keyof typeof ERROR_CODES;

/** Whether a failure with `code` is worth another plan attempt. */
export function isRetryableCode(code: AirlockCode): boolean {
  return ERROR_CODES[code].retryable;
}
