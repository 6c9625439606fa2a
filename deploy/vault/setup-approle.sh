#!/bin/sh
# Create Airlock's two AppRole identities in Vault/OpenBao: airlock-plan (read-only, used while the pull
# request's code runs) and airlock-apply (used only for an approved apply). Run it with a Vault admin
# token, from this directory, on any host with the `vault` or `bao` CLI:
#
#   VAULT_ADDR=https://vault.lab.internal:8200 VAULT_TOKEN=… RUNNER_CIDR=10.0.5.20/32 \
#     WORKSPACES="proxmox dns" ./setup-approle.sh
#
# WORKSPACES lists the names under kv/data/airlock/: each gets an exact deny on its apply path in the
# plan policy (airlock-plan-workspace.hcl), the one kind of deny no other policy can override.
#
# Token TTLs must cover the engine timeouts of the runner config (`airlock doctor` checks):
#   plan:  engine.timeouts.init + plan + show   (defaults 10m + 30m + 5m = 45m)
#   apply: engine.timeouts.apply                (default 60m)
# Tokens are service tokens (batch tokens cannot be revoked), unrenewable beyond token_max_ttl.
set -eu

VAULT=${VAULT_BIN:-$(command -v bao || command -v vault || true)}
[ -n "$VAULT" ] || { echo "needs the vault or bao CLI (or set VAULT_BIN)" >&2; exit 1; }
: "${VAULT_ADDR:?set VAULT_ADDR}"
MOUNT=${APPROLE_MOUNT:-approle}
PLAN_TTL=${PLAN_TOKEN_TTL:-50m}
APPLY_TTL=${APPLY_TOKEN_TTL:-65m}
# secret_ids are bounded in time and in logins (each job logs in once): no identity gets an unlimited-use,
# month-long secret_id. A runner doing ~100 jobs a day lasts the week; deploy/vault/redeliver.sh delivers
# fresh ones (weekly, from a timer on an operator host, or by hand) and destroys the old.
PLAN_SECRET_ID_TTL=${PLAN_SECRET_ID_TTL:-168h}
PLAN_SECRET_ID_USES=${PLAN_SECRET_ID_USES:-1000}
APPLY_SECRET_ID_TTL=${APPLY_SECRET_ID_TTL:-168h}
APPLY_SECRET_ID_USES=${APPLY_SECRET_ID_USES:-200}
HERE=$(cd "$(dirname "$0")" && pwd)

# Bind both the secret_id and the tokens to the runner host when its address is known.
BIND=""
if [ -n "${RUNNER_CIDR:-}" ]; then
  BIND="secret_id_bound_cidrs=$RUNNER_CIDR token_bound_cidrs=$RUNNER_CIDR"
fi

"$VAULT" auth list -format=json | grep -q "\"$MOUNT/\"" || "$VAULT" auth enable -path="$MOUNT" approle

PLAN_POLICY=$(mktemp)
trap 'rm -f "$PLAN_POLICY"' EXIT
cat "$HERE/airlock-plan.hcl" > "$PLAN_POLICY"
for ws in ${WORKSPACES:-}; do
  case "$ws" in *[!A-Za-z0-9_.-]*) echo "WORKSPACES: \"$ws\" is not a plain path segment" >&2; exit 1 ;; esac
  sed "s/WORKSPACE/$ws/g" "$HERE/airlock-plan-workspace.hcl" >> "$PLAN_POLICY"
done
[ -n "${WORKSPACES:-}" ] || echo "note: WORKSPACES is empty; the plan policy's apply denies are wildcards, which a more specific grant in another policy overrides" >&2

"$VAULT" policy write airlock-plan "$PLAN_POLICY"
"$VAULT" policy write airlock-apply "$HERE/airlock-apply.hcl"
# Who may deliver secret_ids (and nothing else): give it to operators through their own login, so every
# delivery is in Vault's audit log under a person's name (redeliver.sh).
"$VAULT" policy write airlock-secret-id-issuer "$HERE/airlock-issuer.hcl"

for phase in plan apply; do
  ttl=$PLAN_TTL sid_ttl=$PLAN_SECRET_ID_TTL sid_uses=$PLAN_SECRET_ID_USES
  [ "$phase" = apply ] && ttl=$APPLY_TTL sid_ttl=$APPLY_SECRET_ID_TTL sid_uses=$APPLY_SECRET_ID_USES
  # shellcheck disable=SC2086 # $BIND is a list of key=value words
  "$VAULT" write "auth/$MOUNT/role/airlock-$phase" \
    token_policies="airlock-$phase" token_type=service \
    token_ttl="$ttl" token_max_ttl="$ttl" token_num_uses=0 \
    secret_id_ttl="$sid_ttl" secret_id_num_uses="$sid_uses" $BIND
done

echo
echo "Put these in the workspace's credentials in the runner config:"
for phase in plan apply; do
  echo "  $phase: roleId: $("$VAULT" read -field=role_id "auth/$MOUNT/role/airlock-$phase/role-id")"
done
echo
echo "Then deliver a secret_id per identity to the runner host: ./issue-secret-id.sh airlock-plan … and airlock-apply …"
