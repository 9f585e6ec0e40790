"""Fuzz the Tarozu API with Schemathesis against its own OpenAPI document.

``python -m benchmarks.fuzz [--examples 2000]``: every operation, with a key of each role
(and a second screener's) and without one, through the ASGI app (no network). Fails on any
5xx, any status code or body the document does not promise, and any breach of ownership: a
screener who reaches a screening another screener's key made (anything but 404 on reading it,
any 2xx on deciding or correcting it), or whose list shows one. ``tests/reliability/test_fuzz.py``
runs the same with fewer cases per operation.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OTHER_SCREENER = "other-screener"
LOCKOUT_SETTINGS = ("auth_failures_per_client", "auth_failures_per_key_id")
SCREENERS = ("screener", OTHER_SCREENER)
ROLES_LINE = re.compile(r"Roles allowed: ([a-z, -]+)\.")
BIG_INT = 1 << 63
KNOWN_BUGS: dict[str, str] = {}  # name -> description of a serving bug the fuzzer should step around


@dataclass
class FuzzReport:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    per_operation: dict[str, int] = field(default_factory=dict)
    foreign: Counter[int] = field(default_factory=Counter)
    """Statuses of screeners' requests aimed at another screener's screening."""


def headers_for(choice: str, keys: dict[str, str]) -> dict[str, str]:
    if choice == "none":
        return {}
    if choice == "wrong":
        return {"X-API-Key": "tarozu_000000000000_not-a-real-key"}
    return {"X-API-Key": keys[choice]}


def auth_choices(keys: dict[str, str]) -> tuple[str, ...]:
    return ("none", "wrong", *keys)


def key_ids(keys: dict[str, str]) -> dict[str, str]:
    """Each key's public id (``tarozu_<key id>_<secret>``), by the name it has in ``keys``."""
    return {name: key.split("_", 2)[1] for name, key in keys.items()}


def ownership_breach(
    method: str, path: str, choice: str, owner: str | None, status: int, body: Any, ids: dict[str, str]
) -> str | None:
    """What a screener's response gives away that is not theirs, if anything.

    ``owner`` names the key that made the screening the request aims at (None: no real one).
    """
    if choice not in SCREENERS:
        return None
    if owner is not None and owner != choice:
        if method == "GET" and status != 404:
            return f"{choice} read another screener's screening: {status}"
        if 200 <= status < 300:
            return f"{choice} acted on another screener's screening: {status}"
    if method == "GET" and path == "/v1/screenings" and status == 200 and isinstance(body, dict):
        foreign = [i.get("key_id") for i in body.get("items", []) if i.get("key_id") != ids[choice]]
        if foreign:
            return f"{choice}'s list shows screenings of other keys: {foreign[:3]}"
    return None


def has_big_int(value: Any) -> bool:
    """True if a JSON value holds an integer outside the signed 64-bit range."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -BIG_INT <= value < BIG_INT
    if isinstance(value, dict):
        return any(has_big_int(v) for v in value.values())
    if isinstance(value, list):
        return any(has_big_int(v) for v in value)
    return False


def fuzz_app(
    app: Any,
    keys: dict[str, str],
    *,
    examples: int,
    screening_ids: dict[str, str],
    skip_known_bugs: bool = False,
    skip: Callable[[str], bool] = lambda _: False,
) -> FuzzReport:
    """Run every operation of ``app`` (started: its lifespan has run) for ``examples`` cases.

    Half the cases carry a key of a role the operation allows (read from the document's
    "Roles allowed" line), the others no key, a wrong key or any key of ``keys`` (a key
    per role and a second screener's); most cases that name a screening name one that exists
    (``screening_ids``: id -> the name of the key that made it), so that decisions, outcomes and
    corrections get past the 404, and screeners aim at their own and at each other's. Cases that
    would only hit a bug in ``KNOWN_BUGS`` are left out while ``skip_known_bugs`` (a strict xfail
    test keeps each bug in view).
    """
    import hypothesis
    import schemathesis
    from hypothesis import HealthCheck, strategies as st
    from schemathesis import checks

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    wanted = [
        checks.not_a_server_error,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_schema_conformance,
        checks.response_headers_conformance,
    ]
    report = FuzzReport()
    ids = key_ids(keys)
    choices_all = auth_choices(keys)
    for result in schema.get_all_operations():
        operation = result.ok()
        label = operation.label
        if skip(label):
            continue
        count = 0
        found = ROLES_LINE.search(operation.definition.raw.get("description", "") or "")
        allowed = [r.strip() for r in found.group(1).split(",")] if found else ["none"]
        if "screener" in allowed:
            allowed.append(OTHER_SCREENER)
        choices = st.one_of(st.sampled_from(allowed), st.sampled_from(choices_all))

        @hypothesis.settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        @hypothesis.given(case=operation.as_strategy(), choice=choices, real_id=st.sampled_from([None, *screening_ids]))
        def run(case: Any, choice: str, real_id: str | None) -> None:
            nonlocal count
            if skip_known_bugs and "big-int" in KNOWN_BUGS and has_big_int(case.body):
                hypothesis.reject()
            count += 1
            owner = None
            if real_id is not None and case.path_parameters and "screening_id" in case.path_parameters:
                case.path_parameters["screening_id"] = real_id
                owner = screening_ids[real_id]
            dropped = ("x-api-key", "authorization")
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in dropped}
            response = case.call_and_validate(headers=headers_for(choice, keys), checks=wanted)
            report.statuses[response.status_code] += 1
            if choice in SCREENERS and owner is not None and owner != choice:
                report.foreign[response.status_code] += 1
            try:
                body = response.json()
            except ValueError:
                body = None
            breach = ownership_breach(case.method.upper(), case.path, choice, owner, response.status_code, body, ids)
            assert breach is None, breach

        try:
            run()
        except Exception as exc:  # Hypothesis shrank a failure of this operation: record it, go on
            report.failures.append(f"{label}: {str(exc)[:3000]}")
        report.cases += count
        report.per_operation[label] = count
    return report


def build(work: Path) -> tuple[Any, dict[str, str], Any]:
    """The app on a fresh SQLite log in ``work``, with a key per role, and its test client."""
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.auditlog.database import make_engine, run_migrations
    from serving.keys import create_key
    from serving.schemas import ROLES
    from serving.settings import Settings
    from tests.support.factories import make_registered

    url = f"sqlite:///{work / 'audit.db'}"
    engine = make_engine(url)
    run_migrations(engine)
    keys = {role: create_key(engine, role=role)["key"] for role in ROLES}
    keys[OTHER_SCREENER] = create_key(engine, role="screener", label="a second screener")["key"]
    engine.dispose()
    model = make_registered("1")
    # No lockout after failed keys: a fuzzer sends wrong keys by the hundred, and every case after
    # the limit would be a 429 that tests nothing else (the lockout has its own tests).
    no_lockout = {name: 0 for name in LOCKOUT_SETTINGS if name in Settings.model_fields}
    settings = Settings(environment="production", hmac_secret="f" * 40, database_url=url, gc_freeze=False, **no_lockout)
    app = create_app(settings, model_loader=lambda _s: model)
    return app, keys, TestClient(app)


def seed_cases() -> list[dict[str, Any]]:
    """Screenings of every status (refer, ask_more, no_referral) and both kinds of person."""
    from models.questionnaire import load_questionnaire
    from serving.schemas import SCREENING_EXAMPLE

    prospective = [f.id for f in load_questionnaire().applicable("prospective")]
    return [
        SCREENING_EXAMPLE,
        {**SCREENING_EXAMPLE, "danger": "yes"},
        {
            **SCREENING_EXAMPLE,
            "answers": {fid: "no" for fid in prospective},
            "not_asked_reasons": {},
            "context": {"migrant_status": "prospective"},
            "monitoring": None,
        },
        {
            "consent": True,
            "answers": {"deceived_wages": "dont_know", "economic_pressure": "declined"},
            "not_asked_reasons": {"recruitment_violence": "not_safe_here"},
            "context": {"migrant_status": "prospective", "months_abroad": 0},
            "screener_assessment": "low",
        },
    ]


def seed_screenings(client: Any, keys: dict[str, str], n: int) -> dict[str, str]:
    """``n`` screenings to aim decisions, outcomes and corrections at: id -> the screener who made it
    (the two screeners take turns)."""
    cases = seed_cases()
    ids = {}
    for i in range(n):
        who = SCREENERS[i % 2]
        r = client.post("/v1/screenings", json=cases[i % len(cases)], headers={"X-API-Key": keys[who]})
        r.raise_for_status()
        ids[r.json()["screening_id"]] = who
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz")
    parser.add_argument("--examples", type=int, default=2000, help="generated cases per operation")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        app, keys, client = build(Path(tmp))
        started = time.perf_counter()
        with client:
            ids = seed_screenings(client, keys, 50)
            report = fuzz_app(app, keys, examples=args.examples, screening_ids=ids)
        seconds = time.perf_counter() - started
    print(f"fuzz: {report.cases} cases over {len(report.per_operation)} operations in {seconds:.0f} s")
    for label, n in report.per_operation.items():
        print(f"  {n:6d}  {label}")
    print("  statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(report.statuses.items())))
    print("  a screener on another's screening: " + ", ".join(f"{s}: {n}" for s, n in sorted(report.foreign.items())))
    print(f"  failures: {len(report.failures)}")
    for failure in report.failures[:20]:
        print("  - " + failure.replace("\n", "\n    "))
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
