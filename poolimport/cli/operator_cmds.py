"""`operator add|list`: who may see which tenant, and who may only look."""

from __future__ import annotations

import argparse

from sqlalchemy import select

from poolimport.cli.context import Context
from poolimport.cli.output import emit_json, print_table, say
from poolimport.core.models import Operator, Tenant
from poolimport.core.routers import check_name
from poolimport.core.tenancy import ROLES, add_operator


def cmd_operator_add(ctx: Context, args: argparse.Namespace) -> int:
    check_name("operator name", args.name)
    with ctx.session() as (session, scope):
        operator = add_operator(session, scope, args.name, args.tenant, args.role)
        where = f"tenant {args.tenant}" if args.tenant else "every tenant"
        say(f"operator {operator.name} added: {operator.role} of {where}")
    return 0


def cmd_operator_list(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.reading() as (session, scope):
        scope.require_write("list operators")
        stmt = scope.restrict(
            select(Operator, Tenant.name).outerjoin(Tenant, Tenant.id == Operator.tenant_id),
            Operator.tenant_id,
        )
        rows = [
            {"name": op.name, "role": op.role, "tenant": tenant}
            for op, tenant in session.execute(stmt.order_by(Operator.name))
        ]
    if args.json:
        emit_json(rows)
    else:
        print_table(rows, ["name", "role", "tenant"], "(no operators: single-user install)")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("operator", help="manage operators")
    operator = group.add_subparsers(dest="action", required=True)
    p = operator.add_parser("add", help="register an operator (POOLIMPORT_OPERATOR says who asks)")
    p.add_argument("name")
    p.add_argument("--tenant", help="the one tenant they see (default: every tenant)")
    p.add_argument("--role", choices=ROLES, default="operator")
    p.set_defaults(func=cmd_operator_add)
    p = operator.add_parser("list", help="list operators", parents=[common])
    p.set_defaults(func=cmd_operator_list)
