"""Imports: one run of any import kind against a router (run: connect, read, write, settle) and the
kinds this installation knows (kinds). The IP pools kind lives in `pools`, with its snapshot of the
router's pool menus, range parsing and the writer that merges a pool into the database."""
