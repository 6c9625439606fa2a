# Appended to airlock-plan once per workspace by setup-approle.sh (WORKSPACES="proxmox dns"), WORKSPACE
# replaced by its name. An exact-path deny is the only deny Vault/OpenBao treat as a veto: it merges with
# an exact grant on the identical path in any other policy (the deny wins) and outranks every wildcard
# grant (OpenBao internal/vault/policy/acl.go, NewACL and AllowOperation).
path "kv/data/airlock/WORKSPACE/apply" {
  capabilities = ["deny"]
}
