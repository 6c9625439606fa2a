#!/bin/sh
# The restore drill: unpack a backup into a scratch directory and check it as a restore would need it,
# without touching the running runner. Run it after every change to the backup job, and monthly.
#
#   ./restore-drill.sh home [/var/backups/airlock/airlock-home-<time>.tar.gz]   # default: the newest
#
# Checks: the audit chain in the backup verifies (no edit, reorder or deletion) and is a prefix of the live
# chain (the live chain still contains the backup's head: nothing was cut since); every state file parses
# and is no newer than the live one (same lineage, serial not ahead); the sealing key is there.
# A real restore, after the drill passed:
#   systemctl stop airlock@home && mv /var/lib/airlock/home /var/lib/airlock/home.broken
#   install -d -m 0700 -o airlock /var/lib/airlock/home && tar -C /var/lib/airlock/home -xzf ARCHIVE
#   chown -R airlock: /var/lib/airlock/home && systemctl start airlock@home
#   sudo -u airlock node /opt/airlock/src/cli/bin.js doctor --config /etc/airlock/runners/home.yaml
# Runs applied after the backup are in the live chain, not the restored one: compare heads before a
# restore, and re-plan any workspace whose state went back (`airlock replan`).
set -eu
NAME=${1:?usage: restore-drill.sh RUNNER-NAME [ARCHIVE]}
ARCHIVE=${2:-$(ls -1t "${DEST:-/var/backups/airlock}"/airlock-"$NAME"-*.tar.gz | head -n 1)}
DATA=${DATA_DIR:-/var/lib/airlock/$NAME}
CONFIG=${CONFIG:-/etc/airlock/runners/$NAME.yaml}
AIRLOCK=${AIRLOCK:-node /opt/airlock/src/cli/bin.js}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
tar -C "$scratch" -xzf "$ARCHIVE"

[ -s "$scratch/keys/approval-seal.key" ] || { echo "FAIL: no sealing key in $ARCHIVE" >&2; exit 1; }
# One verify of every backed-up chain; its report names each chain's head.
report=$($AIRLOCK audit verify --config "$CONFIG" --file "$scratch/audit" --json) || { printf '%s\n' "$report" >&2; echo "FAIL: the audit chain in $ARCHIVE does not verify" >&2; exit 1; }
printf '%s' "$report" | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{for(const c of JSON.parse(s).chains)console.log(require("path").basename(c.file)+" "+c.head.hash)})' |
while read -r chain head; do
  live="$DATA/audit/$chain"
  [ -e "$live" ] || { echo "note: no live $chain (a new host?)"; continue; }
  $AIRLOCK audit verify --config "$CONFIG" --file "$live" --against "$head" >/dev/null || { echo "FAIL: the live $chain no longer contains the backup's head $head" >&2; exit 1; }
  echo "ok $chain: the live chain still holds the backup's head $head"
done
find "$scratch/state" -name '*.tfstate' 2>/dev/null | while read -r f; do
  live="$DATA/${f#"$scratch"/}"
  node -e '
    const fs = require("fs"); const [b, l] = process.argv.slice(1);
    const s = JSON.parse(fs.readFileSync(b, "utf8"));
    if (typeof s.serial !== "number" || typeof s.lineage !== "string") throw new Error(b + ": not a state file");
    if (fs.existsSync(l)) { const t = JSON.parse(fs.readFileSync(l, "utf8"));
      if (t.lineage !== s.lineage) throw new Error(l + ": another lineage than the backup");
      if (t.serial < s.serial) throw new Error(l + ": older than the backup"); }
    console.log("ok " + l + " serial " + s.serial + (fs.existsSync(l) ? "" : " (no live copy)"));' "$f" "$live"
done
echo "drill passed: $ARCHIVE"
