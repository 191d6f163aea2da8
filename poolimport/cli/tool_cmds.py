"""`demo` (everything on throw-away data, with the TUI) and the `sim` entry in --help."""

from __future__ import annotations

import argparse

from poolimport.cli.context import Context


def cmd_demo(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.cli.demo import run_demo

    return run_demo()


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    # Listed for --help only: main() hands `sim` straight to the simulator's own parser.
    sub.add_parser(
        "sim", help="serve a simulated RouterOS API: sim --config FILE [--port N] [--port-file F] …"
    )
    p = sub.add_parser(
        "demo", help="two tenants, three simulated routers, a consumer and the TUI, on throw-away data"
    )
    p.set_defaults(func=cmd_demo)
