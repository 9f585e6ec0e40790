"""``python -m serving.dev_keys``: print a working development key for every role.

Used by ``make run``. Keys live in ``var/dev-keys.json`` (git-ignored, mode 0600) and are
reused while they are valid in the audit database; see :func:`serving.keys.ensure_dev_keys`.
Refused unless ``TAROZU_ENVIRONMENT=development``.
"""

from __future__ import annotations

import sys

from pydantic import ValidationError

from serving.keys import DEV_KEYS_FILE, ensure_dev_keys
from serving.settings import Settings


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"dev keys: {exc.errors()[0]['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    try:
        keys = ensure_dev_keys(settings)
    except PermissionError as exc:
        print(f"dev keys: {exc}; for local use run with TAROZU_ENVIRONMENT=development", file=sys.stderr)
        return 2
    print(f"Development API keys (also in {DEV_KEYS_FILE}; send as 'X-API-Key: <key>'):")
    for role, key in keys.items():
        print(f"  {role:<15} {key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
