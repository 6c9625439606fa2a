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

# Defence in depth: even if another policy is attached by mistake, the apply secrets stay out of reach.
# (`airlock doctor` also proves this with a real read that must answer 403.)
path "kv/data/airlock/+/apply" {
  capabilities = ["deny"]
}
path "database/creds/airlock-*" {
  capabilities = ["deny"]
}

# Tokens revoke themselves after every job (the default policy also allows this).
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
