#!/bin/sh
# Prepare a real Vault or OpenBao dev server for Airlock's test suite, which then runs the same
# credential tests against it instead of the in-process double (test/doubles/vault-double.ts):
#
#   vault server -dev -dev-root-token-id=airlock-root &        # or: bao server -dev -dev-root-token-id=…
#   export AIRLOCK_TEST_VAULT_ADDR=http://127.0.0.1:8200 AIRLOCK_TEST_VAULT_TOKEN=airlock-root
#   deploy/vault/setup-test-server.sh && npm test
#
# It enables AppRole at auth/approle and mounts KV v2 at airlock-kv2/ and KV v1 at airlock-kv1/; each
# test then creates its own policies, roles and secrets under a random name and deletes them afterwards.
# Only curl is needed. Tests that need the double's switches (seal, hang, request counts, echoing
# inputs, dynamic database leases) are skipped against a real server.
set -eu

ADDR=${AIRLOCK_TEST_VAULT_ADDR:?set AIRLOCK_TEST_VAULT_ADDR (e.g. http://127.0.0.1:8200)}
TOKEN=${AIRLOCK_TEST_VAULT_TOKEN:?set AIRLOCK_TEST_VAULT_TOKEN to a root token of that server}
ADDR=${ADDR%/}

api() { # METHOD PATH [JSON] -> prints "STATUS BODY"
  if [ $# -ge 3 ]; then
    curl -sS -o /tmp/airlock-vault-setup.$$ -w '%{http_code}' -X "$1" -H "X-Vault-Token: $TOKEN" -H 'Content-Type: application/json' -d "$3" "$ADDR/v1/$2"
  else
    curl -sS -o /tmp/airlock-vault-setup.$$ -w '%{http_code}' -X "$1" -H "X-Vault-Token: $TOKEN" "$ADDR/v1/$2"
  fi
}
ensure() { # what METHOD PATH JSON: 2xx, or 400 "already in use", is fine
  status=$(api "$2" "$3" "$4")
  body=$(cat /tmp/airlock-vault-setup.$$)
  case "$status" in
    2??) echo "ok    $1" ;;
    400) case "$body" in *"already in use"*) echo "ok    $1 (already there)" ;; *) echo "FAIL  $1: $status $body" >&2; exit 1 ;; esac ;;
    *) echo "FAIL  $1: $status $body" >&2; exit 1 ;;
  esac
}
trap 'rm -f /tmp/airlock-vault-setup.$$' EXIT

health=$(curl -sS "$ADDR/v1/sys/health" || true)
case "$health" in
  *'"sealed":false'*) echo "ok    $ADDR is up and unsealed" ;;
  *) echo "FAIL  $ADDR is not reachable or is sealed: $health" >&2; exit 1 ;;
esac
status=$(api GET auth/token/lookup-self)
case "$(cat /tmp/airlock-vault-setup.$$)" in
  *'"root"'*) echo "ok    the token is a root token" ;;
  *) echo "FAIL  AIRLOCK_TEST_VAULT_TOKEN is not a root token ($status)" >&2; exit 1 ;;
esac

ensure 'AppRole at auth/approle' POST sys/auth/approle '{"type":"approle"}'
ensure 'KV v2 at airlock-kv2/' POST sys/mounts/airlock-kv2 '{"type":"kv","options":{"version":"2"}}'
ensure 'KV v1 at airlock-kv1/' POST sys/mounts/airlock-kv1 '{"type":"kv","options":{"version":"1"}}'

echo
echo "ready: AIRLOCK_TEST_VAULT_ADDR=$ADDR AIRLOCK_TEST_VAULT_TOKEN=… npm test"
