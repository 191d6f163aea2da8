"""Who may do what: the asker (identity), the tenants they see (tenancy), signing in and the write check
(gate), operators and their SSH keys (operators, ssh_keys), and the append-only audit (audit)."""
