#!/bin/sh
# Issue a secret_id for one of Airlock's AppRole identities and deliver it to a file only the runner
# user can read. By default the secret_id is response-wrapped: the file holds a single-use wrapping
# token that the runner unwraps at start (checking it was made by this role's secret-id endpoint).
# If someone else unwraps it first, the runner refuses with an alert instead of running without it.
#
#   ./issue-secret-id.sh airlock-apply /etc/airlock/secrets/homelab-apply.secret-id          # wrapped, 15m
#   WRAP_TTL=0 ./issue-secret-id.sh airlock-plan /etc/airlock/secrets/homelab-plan.secret-id  # plain
#
# Run as root on the runner host (with VAULT_ADDR and an admin VAULT_TOKEN), or pipe the wrapping token
# there; set `wrapped: true` on that identity in the runner config for wrapped delivery, then restart
# the runner (`systemctl restart airlock@<name>`) so it unwraps before the wrapping TTL runs out.
# A plain secret_id file is re-read for every job, so rotating it needs no restart.
set -eu

ROLE=${1:?usage: issue-secret-id.sh ROLE FILE}
FILE=${2:?usage: issue-secret-id.sh ROLE FILE}
VAULT=${VAULT_BIN:-$(command -v bao || command -v vault || true)}
[ -n "$VAULT" ] || { echo "needs the vault or bao CLI (or set VAULT_BIN)" >&2; exit 1; }
MOUNT=${APPROLE_MOUNT:-approle}
OWNER=${RUNNER_USER:-airlock}
WRAP_TTL=${WRAP_TTL:-15m}

umask 077
tmp=$(mktemp "$(dirname "$FILE")/.secret-id.XXXXXX")
trap 'rm -f "$tmp"' EXIT
if [ "$WRAP_TTL" = 0 ]; then
  "$VAULT" write -f -field=secret_id "auth/$MOUNT/role/$ROLE/secret-id" >"$tmp"
else
  "$VAULT" write -f -wrap-ttl="$WRAP_TTL" -field=wrapping_token "auth/$MOUNT/role/$ROLE/secret-id" >"$tmp"
fi
chmod 600 "$tmp"
if id "$OWNER" >/dev/null 2>&1; then chown "$OWNER" "$tmp"; fi
mv "$tmp" "$FILE"
trap - EXIT
echo "wrote $FILE (mode 600, owner $OWNER$( [ "$WRAP_TTL" = 0 ] || echo ", wrapped for $WRAP_TTL"))"
