"""``tarozu keys``: create, list and revoke API keys (the key is printed once, never stored).

``tarozu keys dev`` prints a working development key for every role (used by ``make run``).
They live in ``var/dev-keys.json`` (git-ignored, mode 0600) and are reused while they are
valid in the audit database (:func:`serving.keys.ensure_dev_keys`); refused unless
``TAROZU_ENVIRONMENT=development``.
"""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from serving.auditlog.database import make_engine, run_migrations
from serving.errors import NotFoundError
from serving.keys import DEV_KEYS_FILE, create_key, ensure_dev_keys, list_keys, revoke_key
from serving.schemas import ROLES
from serving.settings import Settings, database_url, key_cache_seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="audit database (default TAROZU_DATABASE_URL)")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--label", help="who or what the key is for (no personal names)")
    sub.add_parser("list", help="list keys (ids, roles, labels; never the keys)")
    revoke = sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", metavar="ID")
    sub.add_parser("dev", help="print a development key for every role (TAROZU_ENVIRONMENT=development only)")


def dev_keys() -> int:
    """Print a working development key for every role, creating them when needed."""
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"tarozu keys dev: {exc.errors()[0]['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    try:
        keys = ensure_dev_keys(settings)
    except PermissionError as exc:
        print(f"tarozu keys dev: {exc}; for local use run with TAROZU_ENVIRONMENT=development", file=sys.stderr)
        return 2
    print(f"Development API keys (also in {DEV_KEYS_FILE}; send as 'X-API-Key: <key>'):")
    for role, key in keys.items():
        print(f"  {role:<15} {key}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "dev":
        return dev_keys()
    engine = make_engine(database_url(args.database_url))
    try:
        run_migrations(engine)
        if args.action == "create":
            created = create_key(engine, role=args.role, label=args.label)
            print(created["key"])
            print(
                f"created key {created['key_id']} with role {created['role']}; it is shown only now, "
                "so store it safely",
                file=sys.stderr,
            )
        elif args.action == "list":
            keys = list_keys(engine)
            print(f"{'ID':<14}{'ROLE':<16}{'CREATED':<29}{'REVOKED':<29}LABEL")
            for k in keys:
                revoked = k["revoked_at"] or "-"
                print(f"{k['key_id']:<14}{k['role']:<16}{k['created_at']:<29}{revoked:<29}{k['label'] or ''}")
        else:
            try:
                info = revoke_key(engine, args.key_id)
            except NotFoundError as exc:
                print(f"tarozu keys: {exc.message}", file=sys.stderr)
                return 1
            print(f"revoked key {info['key_id']} ({info['role']}) at {info['revoked_at']}")
            print(
                f"running API servers refuse it within {key_cache_seconds():g} s (TAROZU_KEY_CACHE_SECONDS, "
                "their key cache's refresh); DELETE /v1/admin/keys/<id> revokes it at once in the server "
                "that answers",
                file=sys.stderr,
            )
    finally:
        engine.dispose()
    return 0
