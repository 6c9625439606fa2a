#!/bin/sh
# Back up one runner's data directory: the local state files (backend: local, under state/), the audit
# chain (audit/), the approval sealing key (keys/), the kept apply outputs (outputs/). Left out: jobs/
# (plan files with variable values in them, deleted after every run anyway), mirrors/ and providers/
# (fetched again). Run as root from a timer; restore-drill.sh checks an archive without touching the runner.
#
#   ./backup.sh home                      # /var/lib/airlock/home -> /var/backups/airlock/airlock-home-<time>.tar.gz
#
# The archive holds the state, and a state file holds every attribute value, sensitive ones included:
# keep it as you keep the state (0600 here; encrypt it before it leaves the host, e.g. with age or restic).
set -eu
NAME=${1:?usage: backup.sh RUNNER-NAME}
DATA=${DATA_DIR:-/var/lib/airlock/$NAME}
DEST=${DEST:-/var/backups/airlock}
KEEP=${KEEP:-14}
umask 077
mkdir -p "$DEST"
out="$DEST/airlock-$NAME-$(date -u +%Y%m%dT%H%M%SZ).tar.gz"

# terraform writes a local state file in place, so a copy taken during an apply can be torn: every state
# file in the archive must parse, else the backup is taken again (an apply is short next to the timer).
for attempt in 1 2 3 4 5; do
  tar -C "$DATA" --exclude=./jobs --exclude=./mirrors --exclude=./providers -czf "$out.tmp" .
  bad=0
  for f in $(tar -tzf "$out.tmp" | grep '\.tfstate$' || true); do
    tar -xzOf "$out.tmp" "$f" | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{const j=JSON.parse(s);if(typeof j.serial!=="number")process.exit(1)})' || bad=1
  done
  [ "$bad" = 0 ] && break
  echo "a state file was being written; taking the backup again ($attempt)" >&2
  sleep 20
done
[ "$bad" = 0 ] || { rm -f "$out.tmp"; echo "no consistent copy of the state after 5 tries" >&2; exit 1; }
mv "$out.tmp" "$out"
ls -1t "$DEST"/airlock-"$NAME"-*.tar.gz | tail -n +"$((KEEP + 1))" | xargs -r rm -f
echo "$out"
