"""`key rotate`: a new key for the stored router passwords."""

from __future__ import annotations

import argparse

from poolimport.cli.context import Context
from poolimport.cli.output import say


def cmd_key_rotate(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.secrets.keys import rotate_key, routers_counted

    with ctx.reading() as (_session, scope):
        pass
    key_file = ctx.settings.key_file
    rotation = rotate_key(ctx.engine(), scope, key_file)
    if rotation.finished_interrupted:
        say(
            f"finished the interrupted rotation: passwords of {routers_counted(rotation.reencrypted)}"
            f" re-encrypted with the key in {key_file}"
        )
    else:
        say(f"passwords of {routers_counted(rotation.reencrypted)} re-encrypted with a new key in {key_file}")
        say(
            f"the previous key is kept in {rotation.old_key_file}: it still decrypts database backups made"
            " before now; remove it once none of them is needed (a next rotation waits for that)"
        )
    # Queue messages are signed with a key derived from the key file: who reads the file follows it.
    say("consumers and TUIs running on this host pick the new key up on their own, without a restart")
    say(f"consumers on other hosts need a copy of the new {key_file} before their next import")
    say(
        "imports queued before now and not yet taken are dropped by the consumers (signed with the replaced"
        " key): their jobs stay queued until cancelled; import those routers again"
    )
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    key = sub.add_parser("key", help="the key of the stored router passwords")
    action = key.add_subparsers(dest="action", required=True)
    p = action.add_parser(
        "rotate", help="re-encrypt every stored password with a new key, keeping the old one beside it"
    )
    p.set_defaults(func=cmd_key_rotate)
