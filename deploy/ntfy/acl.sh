#!/bin/sh
# Users, grants and tokens for one runner and its approvers, non-interactively. Run as root on the ntfy
# host (it calls the `ntfy` CLI against the server's auth-file), once per runner:
#
#   APPROVERS="alice bob" OUT=/root/airlock-ntfy ./acl.sh
#
# It prints each approver's topic names for the runner config, and writes one file per token under $OUT,
# named as runners/example.yaml expects them in /etc/airlock/secrets/ on the runner host:
#   ntfy-publish.token          approval.ntfy.publishTokenFile      (may only write the notify topics)
#   ntfy-subscribe.token        approval.ntfy.subscribeTokenFile    (may only read the reply topics)
#   ntfy-<name>-reply.token     approvers[].replyTokenFile          (may only write <name>'s reply topic)
#   ntfy-<name>.password        the password <name> logs in with on the phone app (give it to them, then delete)
# Copy the token files to the runner host (0600, owned by the runner user) and delete $OUT:
#   install -d -m 0700 -o airlock /etc/airlock/secrets
#   install -m 0600 -o airlock ntfy-*.token /etc/airlock/secrets/
#
# How ntfy reads these rows (user/manager.go, Authorize): a user's own rows come before any row for
# everyone ('*'), then the longest pattern wins; patterns ignore letter case. So grant exact topic names
# as below, never a pattern that also covers another approver's topics, and never grant '*' anything on
# them (auth-default-access: deny-all in server.yml covers everyone else). Topic names are capabilities:
# they are long and random. Re-running creates new topics and tokens; existing users are kept.
set -eu
APPROVERS=${APPROVERS:?set APPROVERS to the approver names, e.g. APPROVERS="alice bob"}
OUT=${OUT:-./airlock-ntfy}
umask 077
mkdir -p "$OUT"

random() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c "$1"; }

# A user with a random password, unless it exists (ntfy reads the password from NTFY_PASSWORD instead of
# asking for it). Prints the password of a new user.
add_user() {
  if ntfy user list 2>&1 | grep -q "^user $1 "; then return 0; fi
  pw=$(random 24)
  NTFY_PASSWORD=$pw ntfy user add "$1" >/dev/null
  printf '%s' "$pw"
}

# A new token for a user, written to a file (ntfy prints "token tk_… created for user …").
add_token() {
  ntfy token add --label=airlock "$1" | grep -o 'tk_[A-Za-z0-9]*' | head -n 1 | tr -d '\n' > "$OUT/$2"
  [ -s "$OUT/$2" ] || { echo "no token for $1 in ntfy's output" >&2; exit 1; }
}

# The runner: one user that may only publish requests, one that may only read replies.
add_user airlock-publisher >/dev/null
add_user airlock-subscriber >/dev/null
add_token airlock-publisher ntfy-publish.token
add_token airlock-subscriber ntfy-subscribe.token

for name in $APPROVERS; do
  case "$name" in *[!a-z0-9._-]*) echo "approver \"$name\": lowercase letters, digits, '.', '_' or '-' only" >&2; exit 1 ;; esac
  notify=airlock-$name-notify-$(random 12)
  reply=airlock-$name-reply-$(random 12)
  ntfy access airlock-publisher "$notify" write-only >/dev/null
  ntfy access airlock-subscriber "$reply" read-only >/dev/null
  # The approver's phone logs in as <name> and subscribes to their notify topic; nothing else.
  pw=$(add_user "$name")
  [ -z "$pw" ] || printf '%s\n' "$pw" > "$OUT/ntfy-$name.password"
  ntfy access "$name" "$notify" read-only >/dev/null
  # The token inside the Approve/Deny buttons: anyone who sees the notifications sees it, so it may only
  # write to this approver's reply topic (write-only: it cannot read the replies, or anything else).
  add_user "$name-reply" >/dev/null
  ntfy access "$name-reply" "$reply" write-only >/dev/null
  add_token "$name-reply" "ntfy-$name-reply.token"
  cat <<YAML
      - name: $name
        notifyTopic: $notify
        replyTopic: $reply
        replyTokenFile: /etc/airlock/secrets/ntfy-$name-reply.token
YAML
done
echo "token files written to $OUT (copy them to /etc/airlock/secrets/ on the runner host, then delete $OUT)" >&2
