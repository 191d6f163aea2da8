"""Routers: the records operators keep (records: tenants and routers, add, edit, remove, test), the
one definition of a router's fields (fields), and the RouterOS API client that talks to a device (api)."""
