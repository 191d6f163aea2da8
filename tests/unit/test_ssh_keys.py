"""authorized_keys lines: the forced command survives sshd's unquoting and then the account's shell, whatever
the installation's paths hold; nothing in them can start another line."""

from __future__ import annotations

import shlex

import pytest

from poolimport.core.access.ssh_keys import InvalidKey, authorized_keys_line, parse_public_key

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv1b2m7nfSj2W6Pgq8RAmgT+8qjC1xc2Jm6mYVwYsNS"
KEY = parse_public_key(f"{ED25519} kim@laptop")


def sshd_command(line: str) -> str:
    """The command option as sshd reads it (auth-options.c, opt_dequote): only \\" is an escape."""
    body = line.removeprefix('restrict,pty,command="')
    out, i = [], 0
    while body[i] != '"':
        if body[i] == "\\" and body[i + 1] == '"':
            i += 1
        out.append(body[i])
        i += 1
    return "".join(out)


PROGRAMS = ["/opt/poolimport/bin/poolimport", "/srv/my tools/poolimport", '/srv/it\'s "here"\\/poolimport']


@pytest.mark.parametrize("program", PROGRAMS)
def test_the_forced_command_reaches_the_shell_as_argv(program: str) -> None:
    command = [program, "ssh", "serve", "--home", "/var/lib/pool import", "--key", KEY.fingerprint]
    line = authorized_keys_line(KEY, command, "poolimport:kim")
    assert shlex.split(sshd_command(line)) == command
    assert line.endswith(f" {KEY.text} poolimport:kim")


def test_a_line_break_never_reaches_the_file() -> None:
    with pytest.raises(InvalidKey, match="another authorized_keys line"):
        authorized_keys_line(KEY, ["/bin/poolimport\nssh-ed25519 AAAA"], "x")
    with pytest.raises(InvalidKey, match="another authorized_keys line"):
        authorized_keys_line(KEY, ["/bin/poolimport"], "kim\nssh-ed25519 AAAA")


def test_the_comment_is_kept_printable() -> None:
    key = parse_public_key(f"{KEY.text} kim\x1b[31m@laptop")
    assert key.comment == "kim\ufffd[31m@laptop"
