# airlock-secret-id-issuer: delivers secret_ids for Airlock's two AppRole identities and retires old ones,
# nothing else (no login as them, no reads of their secrets, no role changes). Attach it to operators'
# own logins (userpass/OIDC) so each delivery is audited under a name; redeliver.sh uses it.
path "auth/approle/role/airlock-plan/secret-id" {
  capabilities = ["update", "list"]
}
path "auth/approle/role/airlock-apply/secret-id" {
  capabilities = ["update", "list"]
}
path "auth/approle/role/airlock-plan/secret-id-accessor/destroy" {
  capabilities = ["update"]
}
path "auth/approle/role/airlock-apply/secret-id-accessor/destroy" {
  capabilities = ["update"]
}
