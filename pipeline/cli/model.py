"""``tarozu model``: the stop procedure from the server's command line (withdraw, reinstate, status).

The same events as ``POST /v1/admin/model:withdraw`` and ``:reinstate``, written to the audit log
with the key id ``cli`` (whoever can run this has the audit database); running API processes pick
them up within the API-key refresh interval. The version defaults to the registry's champion.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy import select

from pipeline.errors import CommandError
from serving.auditlog.database import make_engine, model_events, run_migrations
from serving.auditlog.model_events import CLI_KEY_ID, load_withdrawals
from serving.auditlog.writer import AppendModelEvent, AuditWriter
from serving.errors import ApiError
from serving.registry import alias_version
from serving.schemas import TEXT_MAX_CHARS
from serving.settings import Settings, database_url

NO_CHAMPION = "no version of {name!r} has the alias {alias!r}; name one with --version"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="audit database (default TAROZU_DATABASE_URL)")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (("withdraw", "stop all scoring with a model version"), ("reinstate", "resume it")):
        p = sub.add_parser(action, help=text)
        p.add_argument("--reason", required=True, help="why (shown to every caller; no names)")
        p.add_argument("--version", help="model version (default: the registry's champion)")
        p.add_argument("--name", help="registered model name (default TAROZU_MODEL_NAME)")
    sub.add_parser("status", help="the withdrawn versions and the history of withdrawals")


def _champion_version(name: str, alias: str, tracking_uri: str | None) -> str:

    found = alias_version(name=name, alias=alias, uri=tracking_uri)
    if found is None:
        raise CommandError(NO_CHAMPION.format(name=name, alias=alias))
    return str(found.version)


def _append(engine: Any, row: dict[str, Any]) -> dict[str, Any]:

    result: dict[str, Any] = AuditWriter.append_once(engine, AppendModelEvent(row))
    return result


def run(args: argparse.Namespace) -> int:

    settings = Settings(environment="development")  # names and URIs only; no secret is used
    engine = make_engine(database_url(args.database_url))
    try:
        run_migrations(engine)
        if args.action == "status":
            withdrawn = load_withdrawals(engine)
            with engine.connect() as conn:
                history = conn.execute(select(model_events).order_by(model_events.c.seq)).all()
            for e in history:
                print(f"{e.created_at}  {e.action:<9}  {e.model_name} {e.model_version}  key {e.key_id}: {e.reason}")
            if not withdrawn:
                print("no model version is withdrawn")
            for (name, version), info in sorted(withdrawn.items()):
                print(f"WITHDRAWN: {name} version {version} since {info['withdrawn_at']} by key {info['key_id']}")
            return 0
        if len(args.reason) > TEXT_MAX_CHARS or not args.reason.strip():
            raise CommandError(f"--reason must be 1 to {TEXT_MAX_CHARS} characters")
        name = args.name or settings.model_name
        version = args.version or _champion_version(name, settings.model_alias, settings.tracking_uri)
        row = {
            "role": "admin",
            "key_id": CLI_KEY_ID,
            "action": args.action,
            "model_name": name,
            "model_version": version,
            "reason": args.reason,
        }
        try:
            stored = _append(engine, row)
        except ApiError as exc:
            print(f"tarozu model: {exc.message}", file=sys.stderr)
            return 1
        done = "withdrawn: nothing is scored with it" if args.action == "withdraw" else "reinstated: scoring resumes"
        print(
            f"{name} version {version} {done} (logged at {stored['created_at']}; running servers follow within seconds)"
        )
    finally:
        engine.dispose()
    return 0
