"""Nested, wide and long bodies on every route that takes a body: a 4xx, a short answer and
short log lines, never a 500 or a traceback.

The routes come from the app's own OpenAPI document, so a route added later is fed the same
inputs. (A 3.6 KB batch of nested objects used to answer 500 and log a 166 KB traceback: the
error body tried to echo the nested value.)
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import given, settings, strategies as st

from serving.errors import ECHO_MAX_CHARS, MAX_DETAILS
from serving.openapi import route_roles
from tests.support.api import auth, screen

MAX_ANSWER_BYTES = 20_000
MAX_LOG_LINE = 2_000
LONG = 400_000  # characters: far over any field's limit, under the 1 MiB body limit


def nested(depth: int, leaf: bytes = b"1") -> bytes:
    return b'{"x": ' * depth + leaf + b"}" * depth


def hostile_bodies() -> dict[str, bytes]:
    long_key, long_value = "k" * LONG, "v" * LONG
    return {
        # far past the depth limit: refused before parsing
        "nested-objects": nested(5_000),
        "nested-lists": b"[" * 50_000 + b"]" * 50_000,
        # the 3.6 KB batch of the report: nested objects inside cases
        "nested-in-cases": b'{"cases": [' + b",".join([nested(150)] * 4) + b"]}",
        # under the depth limit, in a field that does not exist: parsed, refused, not echoed
        "nested-unknown-field": b'{"zz": ' + nested(10) + b', "cases": [{"zz": ' + nested(10) + b"}]}",
        # wider than any object or list may be
        "wide-object": orjson.dumps({f"k{i}": i for i in range(5_000)}),
        "wide-list": b'{"cases": [' + b",".join([b"0"] * 60_000) + b"]}",
        # under the width limit, but every member unknown: at most MAX_DETAILS problems listed
        "many-unknown-fields": orjson.dumps({f"unknown_{i}": [i] for i in range(900)}),
        # long names and values
        "long-unknown-key": orjson.dumps({long_key: 1}),
        "long-value": orjson.dumps({"reason": long_value, "reason_text": long_value, "label": long_value}),
        "long-in-cases": orjson.dumps({"cases": [{long_key: long_value}]}),
        "long-number": b'{"cases": [{"context": {"months_abroad": ' + b"9" * 300_000 + b"}}]}",
    }


def operations(client: TestClient) -> list[tuple[str, str, tuple[str, ...]]]:
    """(method, path, roles) of every operation whose OpenAPI entry has a request body."""
    app: Any = client.app
    document = app.openapi()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if "requestBody" not in operation:
                continue
            route = next(
                r
                for router in app.state.routers
                for r in router.routes
                if isinstance(r, APIRoute) and r.path_format == path and method.upper() in r.methods
            )
            found.append((method.upper(), path, route_roles(route) or ()))
    return found


def test_the_openapi_document_lists_every_route_that_takes_a_body(client: TestClient) -> None:
    ops = {(m, p) for m, p, _ in operations(client)}
    # a floor, not the list: the test below feeds whatever the document has
    assert {("POST", "/v1/screenings"), ("POST", "/v1/screenings:batch"), ("POST", "/invocations")} <= ops
    assert len(ops) >= 8


def _record_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


@pytest.mark.parametrize("name", sorted(hostile_bodies()))
def test_every_route_refuses_hostile_bodies_with_a_short_4xx(
    client: TestClient, keys: dict[str, str], caplog: pytest.LogCaptureFixture, name: str
) -> None:
    body = hostile_bodies()[name]
    screening_id = screen(client, keys)["screening_id"]
    caplog.set_level(logging.DEBUG)
    for method, path, roles in operations(client):
        url = path.replace("{screening_id}", screening_id)
        headers = {**auth(keys, roles[0] if roles else "admin"), "Content-Type": "application/json"}
        caplog.clear()
        response = client.request(method, url, content=body, headers=headers)
        where = f"{name} {method} {path}"
        assert 400 <= response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
        assert len(response.content) < MAX_ANSWER_BYTES, f"{where}: {len(response.content)} bytes"
        assert "Traceback" not in response.text
        answer = response.json()
        error = answer.get("error")
        if isinstance(error, dict):  # Tarozu's error body (/invocations answers like MLflow)
            assert error["value"] is None or isinstance(error["value"], str | int | float | bool), where
            if isinstance(error["value"], str):
                assert len(error["value"]) <= ECHO_MAX_CHARS + 1, where
            assert len(error.get("details") or []) <= MAX_DETAILS, where
            for detail in error.get("details") or []:
                assert not isinstance(detail["value"], dict | list), where
        lines = _record_lines(caplog)
        assert lines, f"{where}: the refusal is not logged"
        for line in lines:
            assert len(line) < MAX_LOG_LINE, f"{where}: a {len(line)}-character log line"
            assert "v" * 200 not in line
            assert "k" * 200 not in line


def test_the_nested_batch_of_the_report_is_a_400_that_names_the_limit(client: TestClient, keys: dict[str, str]) -> None:
    body = hostile_bodies()["nested-in-cases"]
    assert len(body) < 5_000
    response = client.post(
        "/v1/screenings:batch",
        content=body,
        headers={**auth(keys, "data-scientist"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_deeply_nested"


def test_an_unknown_field_holding_an_object_is_named_not_echoed(client: TestClient, keys: dict[str, str]) -> None:
    body = {"cases": [{"answers": {}, "zz": {"a": {"b": ["c"]}}}]}
    response = client.post("/v1/screenings:batch", json=body, headers=auth(keys, "data-scientist"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"], error["value"], error["row"]) == ("unknown_field", "zz", None, 1)


def test_a_long_value_is_cut_in_the_echo(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(
        "/v1/screenings", json={"lang": "x" * 150, "screener_assessment": "low"}, headers=auth(keys, "screener")
    )
    assert response.status_code == 422
    value = response.json()["error"]["value"]
    assert value.startswith("x" * ECHO_MAX_CHARS)
    assert len(value) == ECHO_MAX_CHARS + 1  # and an ellipsis


def test_depth_and_width_at_the_limits_pass_the_guard() -> None:
    from serving.middleware import json_shape

    assert json_shape(nested(16), max_depth=16, max_width=10) is None
    assert json_shape(nested(17), max_depth=16, max_width=10) == ("depth", 16)
    ten = b'{"a": [' + b",".join([b"1"] * 10) + b"]}"
    assert json_shape(ten, max_depth=16, max_width=10) is None
    eleven = b'{"a": [' + b",".join([b"1"] * 11) + b"]}"
    assert json_shape(eleven, max_depth=16, max_width=10) == ("width", 10)
    # brackets and commas inside strings are text, escaped quotes included
    text = orjson.dumps({"a": '[[[[[[[[[[[[[[[[[[[[,,,,,,,,,,,,,,,,\\"[[[[[[[[[[[[[[[[[[['})
    assert json_shape(text, max_depth=2, max_width=2) is None
    # many small lists side by side are narrow
    many = b"[" + b",".join([b"[1,2]"] * 5) + b"]"
    assert json_shape(many, max_depth=4, max_width=5) is None
    assert json_shape(many, max_depth=4, max_width=4) == ("width", 4)


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.lists(st.sampled_from(b'"[]{},a'), max_size=60),  # no backslash: the fast reading
        st.lists(st.sampled_from(b'"\\[]{},a'), max_size=60),
    ).map(bytes)
)
def test_a_body_is_read_as_the_scanner_reads_it(body: bytes) -> None:
    """The guard's reading of brackets and commas outside strings, quotes and escapes anywhere,
    well formed or not, is the string-by-string scanner's."""
    from serving.middleware import structure, structure_by_scan

    assert structure(body).tobytes() == structure_by_scan(body).tobytes()


def test_a_body_of_quotes_and_backslashes_is_scanned_in_linear_time() -> None:
    import time

    from serving.middleware import json_shape

    body = b'"' + b'\\"' * 500_000  # an unterminated string full of escaped quotes (1 MB)
    started = time.perf_counter()
    assert json_shape(body, max_depth=16, max_width=1000) is None
    assert time.perf_counter() - started < 1.0
