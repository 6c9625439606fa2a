#!/bin/sh
# Deliver fresh secret_ids to one runner and restart it: the routine step for a planned restart, a reboot
# and the weekly rotation (secret_ids expire after a week or their use count; setup-approle.sh). Run as root
# on the runner host with VAULT_ADDR and an operator's own short-lived VAULT_TOKEN carrying the
# airlock-secret-id-issuer policy: Vault's audit log records who delivered what, and when.
#
#   VAULT_ADDR=https://vault.lab.internal:8200 VAULT_TOKEN=$(vault login -method=oidc -token-only) \
#     ./redeliver.sh home proxmox         # runner `home`, files /etc/airlock/secrets/proxmox-{plan,apply}.secret-id
#                                         # (the identities' secretIdFile in runners/example.yaml)
#
# After a restart without it, a wrapped identity fails with `airlock:vault-secret-id-spent` (this runner
# used the token up itself: run this script). `airlock:vault-unwrap-failed` is different: somebody else used
# it up. Treat that as a leak (deploy/vault/README.md) before delivering anything.
# KEEP_OLD=1 keeps the roles' other secret_ids (a second runner sharing the roles); by default they are
# destroyed once the runner is back, so a copied old secret_id stops working.
set -eu
NAME=${1:?usage: redeliver.sh RUNNER-NAME [FILE-PREFIX]}
PREFIX=${2:-$NAME}
VAULT=${VAULT_BIN:-$(command -v bao || command -v vault || true)}
[ -n "$VAULT" ] || { echo "needs the vault or bao CLI (or set VAULT_BIN)" >&2; exit 1; }
: "${VAULT_ADDR:?set VAULT_ADDR}" "${VAULT_TOKEN:?set VAULT_TOKEN to your own token with the airlock-secret-id-issuer policy}"
MOUNT=${APPROLE_MOUNT:-approle}
SECRETS=${SECRETS_DIR:-/etc/airlock/secrets}
HERE=$(cd "$(dirname "$0")" && pwd)

for phase in plan apply; do
  old=$("$VAULT" list -format=json "auth/$MOUNT/role/airlock-$phase/secret-id" 2>/dev/null | tr -d '[]" \n' | tr ',' ' ' || true)
  "$HERE/issue-secret-id.sh" "airlock-$phase" "$SECRETS/$PREFIX-$phase.secret-id"
  eval "old_$phase=\"\$old\""
done
logger -t airlock-redeliver "secret_ids delivered to runner $NAME by $(id -un) (Vault token accessor $("$VAULT" token lookup -format=json | grep -o '"accessor": *"[^"]*"' | head -n 1 | cut -d'"' -f4))" || true
systemctl restart "airlock@$NAME"
systemctl is-active --quiet "airlock@$NAME" || { echo "airlock@$NAME did not come back: journalctl -u airlock@$NAME" >&2; exit 1; }

if [ "${KEEP_OLD:-0}" != 1 ]; then
  for phase in plan apply; do
    eval "old=\$old_$phase"
    for accessor in $old; do
      "$VAULT" write -f "auth/$MOUNT/role/airlock-$phase/secret-id-accessor/destroy" secret_id_accessor="$accessor" >/dev/null
    done
  done
fi
echo "runner $NAME restarted with fresh secret_ids; older ones destroyed unless KEEP_OLD=1"
