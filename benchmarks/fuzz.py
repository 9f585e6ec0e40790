"""Fuzz the Tarozu API with Schemathesis against its own OpenAPI document.

``python -m benchmarks.fuzz [--examples 2000]``: every operation, with a key of each role
and without one, through the ASGI app (no network). Fails on any 5xx, any status code or
body the document does not promise. ``tests/reliability/test_fuzz.py`` runs the same with
fewer cases per operation.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AUTH_CHOICES = ("none", "wrong", "screener", "specialist", "reviewer", "data-scientist", "admin")
ROLES_LINE = re.compile(r"Roles allowed: ([a-z, -]+)\.")
BIG_INT = 1 << 63
KNOWN_BUGS: dict[str, str] = {}  # name -> description of a serving bug the fuzzer should step around


@dataclass
class FuzzReport:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    per_operation: dict[str, int] = field(default_factory=dict)


def headers_for(choice: str, keys: dict[str, str]) -> dict[str, str]:
    if choice == "none":
        return {}
    if choice == "wrong":
        return {"X-API-Key": "tarozu_000000000000_not-a-real-key"}
    return {"X-API-Key": keys[choice]}


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
    screening_ids: list[str],
    skip_known_bugs: bool = False,
    skip: Callable[[str], bool] = lambda _: False,
) -> FuzzReport:
    """Run every operation of ``app`` (started: its lifespan has run) for ``examples`` cases.

    Half the cases carry a key of a role the operation allows (read from the document's
    "Roles allowed" line), the others no key, a wrong key or any role; half the cases that
    name a screening name one that exists (``screening_ids``), so that decisions, outcomes
    and corrections get past the 404. Cases that would only hit a bug in ``KNOWN_BUGS`` are
    left out while ``skip_known_bugs`` (a strict xfail test keeps each bug in view).
    """
    import hypothesis
    import schemathesis
    from hypothesis import HealthCheck
    from hypothesis import strategies as st
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
    for result in schema.get_all_operations():
        operation = result.ok()
        label = operation.label
        if skip(label):
            continue
        count = 0
        found = ROLES_LINE.search(operation.definition.raw.get("description", "") or "")
        allowed = [r.strip() for r in found.group(1).split(",")] if found else ["none"]
        choices = st.one_of(st.sampled_from(allowed), st.sampled_from(AUTH_CHOICES))

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
            if real_id is not None and case.path_parameters and "screening_id" in case.path_parameters:
                case.path_parameters["screening_id"] = real_id
            dropped = ("x-api-key", "authorization")
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in dropped}
            response = case.call_and_validate(headers=headers_for(choice, keys), checks=wanted)
            report.statuses[response.status_code] += 1

        try:
            run()
        except Exception as exc:  # Hypothesis shrank a failure of this operation: record it, go on
            report.failures.append(f"{label}: {str(exc)[:3000]}")
        report.cases += count
        report.per_operation[label] = count
    return report


def build(work: Path) -> tuple[Any, dict[str, str], Any]:
    """The app on a fresh SQLite log in ``work``, with a key per role, and its test client."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "serving"))
    from factories import make_registered
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.db import make_engine, run_migrations
    from serving.keys import create_key
    from serving.schemas import ROLES
    from serving.settings import Settings

    url = f"sqlite:///{work / 'audit.db'}"
    engine = make_engine(url)
    run_migrations(engine)
    keys = {role: create_key(engine, role=role)["key"] for role in ROLES}
    engine.dispose()
    model = make_registered("1")
    settings = Settings(environment="production", hmac_secret="f" * 40, database_url=url, gc_freeze=False)
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
            "audit": None,
        },
        {
            "consent": True,
            "answers": {"deceived_wages": "dont_know", "economic_pressure": "declined"},
            "not_asked_reasons": {"recruitment_violence": "not_safe_here"},
            "context": {"migrant_status": "prospective", "months_abroad": 0},
            "screener_assessment": "low",
        },
    ]


def seed_screenings(client: Any, keys: dict[str, str], n: int) -> list[str]:
    """``n`` screenings to aim decisions, outcomes and corrections at."""
    cases = seed_cases()
    ids = []
    for i in range(n):
        r = client.post("/v1/screenings", json=cases[i % len(cases)], headers={"X-API-Key": keys["screener"]})
        r.raise_for_status()
        ids.append(r.json()["screening_id"])
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
    print(f"  failures: {len(report.failures)}")
    for failure in report.failures[:20]:
        print("  - " + failure.replace("\n", "\n    "))
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
