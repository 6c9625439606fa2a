#!/bin/sh
# Users, grants and tokens for one runner and one approver (alice); repeat the alice block per approver.
# Run on the ntfy host. Topic names are capabilities: make them long and random, and use the same names
# in the runner config (approval.ntfy.approvers[].notifyTopic / replyTopic).
# How ntfy reads these rows (user/manager.go, Authorize): a user's own rows come before any row for
# everyone ('*'), then the longest pattern wins; patterns ignore letter case. So grant exact topic names
# as below, never a pattern that also covers another approver's topics, and never grant '*' anything on
# them (auth-default-access: deny-all in server.yml covers everyone else).
set -eu
NOTIFY=airlock-alice-notify-$(head -c 9 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 12)
REPLY=airlock-alice-reply-$(head -c 9 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 12)

# The runner: one user that may only publish requests, one that may only read replies.
ntfy user add airlock-publisher          # asks for a password; only its token is used
ntfy user add airlock-subscriber
ntfy access airlock-publisher  "$NOTIFY" write-only
ntfy access airlock-subscriber "$REPLY"  read-only

# alice's phone logs in as alice and subscribes to her notify topic; nothing else.
ntfy user add alice
ntfy access alice "$NOTIFY" read-only

# The token inside alice's Approve/Deny buttons: anyone who sees her notifications sees it, so it may
# only write to her reply topic (write-only: it cannot read the replies, or anything else).
ntfy user add alice-reply
ntfy access alice-reply "$REPLY" write-only

ntfy token add airlock-publisher         # → /etc/airlock/ntfy/publish.token
ntfy token add airlock-subscriber        # → /etc/airlock/ntfy/subscribe.token
ntfy token add alice-reply               # → /etc/airlock/ntfy/alice-reply.token
echo "notify topic: $NOTIFY"
echo "reply topic:  $REPLY"
# On the runner host, one token per file, readable only by the runner user:
#   install -d -m 0700 -o airlock /etc/airlock/ntfy
#   printf '%s\n' tk_… > /etc/airlock/ntfy/publish.token && chown airlock /etc/airlock/ntfy/*.token && chmod 600 /etc/airlock/ntfy/*.token
