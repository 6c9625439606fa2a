# airlock-apply: the identity `terraform apply` runs with, only after a human approved the exact plan.
# Its token lives for one apply and is revoked right after, together with its leases. Never attach it
# to the plan role: the plan policy's wildcard denies would not outrank these more specific grants.

path "kv/data/airlock/+/apply" {
  capabilities = ["read"]
}

# Dynamic credentials, e.g. a database user created for this apply and dropped when the lease ends.
path "database/creds/airlock-apply" {
  capabilities = ["read"]
}

# Revoking its own leases by id (the runner uses the path form, so nothing else can be revoked).
path "sys/leases/revoke/database/creds/airlock-apply/*" {
  capabilities = ["update"]
}

path "auth/token/revoke-self" {
  capabilities = ["update"]
}
