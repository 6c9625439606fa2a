# airlock-plan: the identity `terraform plan` runs with. A plan runs the pull request's code (providers,
# modules, expressions), so treat everything this policy can read as readable by the agent.
# Give it only the read-only credentials a refresh needs, never anything `apply` uses.
#
# Layout assumed here (adapt the paths, keep the split):
#   kv/data/airlock/<workspace>/plan    read-only credentials, e.g. a Proxmox token with PVEAuditor
#   kv/data/airlock/<workspace>/apply   write credentials (airlock-apply only)

path "kv/data/airlock/+/plan" {
  capabilities = ["read"]
}

# What keeps the apply secrets from this identity is that its role carries this policy only (and
# `default`); `airlock doctor` proves it with a real read of every apply path that must answer 403.
#
# The denies below are NOT a veto. Vault/OpenBao merge rules only for the identical path string (there a
# deny wins); otherwise exactly one rule decides a request: an exact path first, else the wildcard rule
# whose first `+` or `*` comes latest (then: not a `*` prefix, fewer `+`, longer). Grants of different
# rules are never added up and a deny elsewhere is never consulted (OpenBao internal/vault/policy/acl.go,
# NewACL, AllowOperation and CheckAllowedFromNonExactPaths). So, if another policy is attached by mistake:
#   - a broader grant (kv/*, kv/data/*, kv/data/airlock/*) loses to `kv/data/airlock/+/apply` below;
#   - an exact path (kv/data/airlock/prod/apply) or a later wildcard (kv/data/airlock/prod/*) WINS over it.
# The exact per-workspace denies from airlock-plan-workspace.hcl (setup-approle.sh WORKSPACES="…" adds
# one per workspace) close that gap for the workspaces you list: an exact deny merges with an exact grant
# on the same path (the deny wins) and outranks every wildcard grant.
path "kv/data/airlock/+/apply" {
  capabilities = ["deny"]
}

# The same holds here: the exact path outranks any wildcard grant and merges with an exact one.
path "database/creds/airlock-apply" {
  capabilities = ["deny"]
}
path "database/creds/airlock-*" {
  capabilities = ["deny"]
}

# Tokens revoke themselves after every job (the default policy also allows this).
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
