"""Request bodies: JSON into the request models, CSV batches, and MLflow scoring-server bodies.

Bodies are parsed here, not by FastAPI, so that each error can name the field, the value
and what is allowed (the model is at hand), and so that the single-case path validates
straight from bytes (``model_validate_json``). The body-size limit was enforced before any
of this, by :class:`serving.middleware.BodyLimitMiddleware`.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Mapping
from email.message import Message
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from models.questionnaire import load_questionnaire
from serving.errors import (
    MALFORMED_JSON,
    BadRequestError,
    InvalidInputError,
    InvocationError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    validation_error,
)
from serving.schemas import BULK_NOT_SCREENING, BULK_ONLY_FIELDS, BatchRequest, BulkCase

M = TypeVar("M", bound=BaseModel)

JSON = "application/json"
CSV = "text/csv"
TOO_MANY_CASES = "{n} cases sent; at most {limit} are accepted per request"
NOT_UTF8 = "the body is not UTF-8 text"
CSV_COLUMNS = ("lang", "consent", "danger", "questionnaire_version")
CSV_UNKNOWN_COLUMN = "column {column!r} in the CSV header is not a questionnaire field, " + ", ".join(CSV_COLUMNS)
CSV_DUPLICATE_COLUMN = "column {column!r} appears twice in the CSV header"
CSV_ROW_LENGTH = "case {row}: {found} values for {expected} columns"
CSV_EMPTY = "the CSV has no header row"
BATCH_SHAPE = "the body must be a JSON object with a list under 'cases'"

# /invocations: the wording of MLflow 3's scoring server (mlflow/pyfunc/scoring_server).
MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
MLFLOW_REQUIRED = (
    "The input must be a JSON dictionary with exactly one of the input fields "
    "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}"
)
MLFLOW_CONTENT_TYPES = (
    "This predictor only supports the following content types: Types: ['text/csv', 'application/json']. Got '{found}'."
)


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    mime, params = _parsed_content_type(content_type)
    return mime, dict(params)


@functools.lru_cache(maxsize=256)  # every request parses one of a few content types; the email parser is slow
def _parsed_content_type(content_type: str | None) -> tuple[str, tuple[tuple[str, str], ...]]:
    if not content_type:
        return "", ()
    message = Message()
    message["content-type"] = content_type
    params = {k.lower(): v for k, v in message.get_params(failobj=[])[1:]}
    return message.get_content_type(), tuple(params.items())


def _is_json(mime: str) -> bool:
    """JSON, or no content type at all (what a bare client sends); never text/plain or a form."""
    return mime in ("", JSON) or (mime.startswith("application/") and mime.endswith("+json"))


def parse_json(body: bytes, model: type[M], content_type: str | None) -> M:
    """A validated ``model`` from a JSON body; raises an :class:`ApiError` that names the field."""
    mime, _ = media_type(content_type)
    if not _is_json(mime):  # text/plain too: a form or a fetch() can send it across sites without asking
        raise UnsupportedMediaTypeError(
            f"content type {mime!r} is not accepted here; send application/json",
            value=mime,
            allowed=[JSON],
        )
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise validation_error(exc, model) from None


# ---------------------------------------------------------------------------- batches
def parse_batch(body: bytes, content_type: str | None, *, max_cases: int) -> list[Any]:
    """Validated cases of a batch (JSON or CSV); all are checked before any is scored."""
    mime, _ = media_type(content_type)
    if mime == CSV:
        return _parse_csv_batch(body, max_cases=max_cases)
    if not _is_json(mime):
        raise UnsupportedMediaTypeError(
            f"content type {mime!r} is not accepted here; send application/json or text/csv",
            value=mime,
            allowed=[JSON, CSV],
        )
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(MALFORMED_JSON.format(detail=str(exc)), code="malformed_json") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cases"), list):
        raise InvalidInputError(BATCH_SHAPE, field="cases", allowed={"cases": "list of screening requests"})
    _check_count(len(raw["cases"]), max_cases)
    try:
        batch = BatchRequest.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc, BatchRequest) from None
    cases: list[Any] = batch.cases  # type: ignore[attr-defined]
    return cases


def _check_count(n: int, max_cases: int) -> None:
    if n > max_cases:
        raise PayloadTooLargeError(
            TOO_MANY_CASES.format(n=n, limit=max_cases),
            field="cases",
            value=n,
            allowed=f"at most {max_cases}",
            code="batch_too_large",
        )


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError(NOT_UTF8, code="not_utf8") from None


def _csv_case(record: Mapping[str, str]) -> dict[str, Any]:
    q = load_questionnaire()
    case: dict[str, Any] = {"answers": {}, "context": {}}
    for column, value in record.items():
        if value == "":
            continue
        if column in ("lang", "danger", "questionnaire_version"):
            case[column] = value
            continue
        if column == "consent":
            case[column] = value.strip().lower() == "true" if value.strip().lower() in ("true", "false") else value
            continue
        field = q.field(column)
        section = {"indicator": "answers", "context": "context", "monitoring": "monitoring"}[field.kind]
        if field.numeric and value.strip().lstrip("-").isdigit():
            case.setdefault(section, {})[column] = int(value)
        else:
            case.setdefault(section, {})[column] = value
    return case


def _parse_csv_batch(body: bytes, *, max_cases: int) -> list[Any]:
    rows = list(csv.reader(io.StringIO(_decode(body), newline="")))
    if not rows:
        raise InvalidInputError(CSV_EMPTY, code="empty_csv")
    header, data = rows[0], [r for r in rows[1:] if r]
    allowed = [f.id for f in load_questionnaire().all_fields] + list(CSV_COLUMNS)
    seen: set[str] = set()
    for column in header:
        if column in BULK_ONLY_FIELDS:
            raise InvalidInputError(
                BULK_NOT_SCREENING.format(fields=column), field=column, allowed=allowed, code="bulk_not_screening"
            )
        if column not in allowed:
            raise InvalidInputError(
                CSV_UNKNOWN_COLUMN.format(column=column),
                field=column,
                value=column,
                allowed=allowed,
                code="unknown_field",
            )
        if column in seen:
            raise InvalidInputError(CSV_DUPLICATE_COLUMN.format(column=column), field=column, code="duplicate_column")
        seen.add(column)
    _check_count(len(data), max_cases)
    cases = []
    for i, values in enumerate(data, start=1):
        if len(values) != len(header):
            raise InvalidInputError(
                CSV_ROW_LENGTH.format(row=i, found=len(values), expected=len(header)), row=i, code="bad_row"
            )
        try:
            cases.append(BulkCase.model_validate(_csv_case(dict(zip(header, values, strict=True)))))
        except ValidationError as exc:
            error = validation_error(exc, BulkCase)
            error.row = i
            error.message = f"case {i}: {error.message}"
            raise error from None
    return cases


# ---------------------------------------------------------------------------- /invocations
def parse_invocation(body: bytes, content_type: str | None, *, max_rows: int) -> list[dict[str, Any]]:
    """Cases of an MLflow scoring request as ``{field: raw value}``, columns checked."""
    mime, params = media_type(content_type)
    if params.get("charset", "utf-8").lower() != "utf-8":
        raise InvocationError("The scoring server only supports UTF-8", status=415)
    if mime == CSV:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvocationError(f"Ensure that input is a valid UTF-8 encoded string. Error: '{exc!r}'") from None
        records = _csv_records(text)
    elif mime == JSON:
        records = _json_records(body)
    else:
        raise InvocationError(MLFLOW_CONTENT_TYPES.format(found=content_type), status=415)
    if len(records) > max_rows:
        raise InvocationError(TOO_MANY_CASES.format(n=len(records), limit=max_rows), status=413)
    allowed = {f.id for f in load_questionnaire().all_fields}
    for record in records:
        unknown = sorted(set(record) - allowed)
        if unknown:
            raise InvocationError(
                f"Unknown column(s) {unknown}: columns must be questionnaire field ids ({sorted(allowed)})"
            )
    return records


def _csv_records(text: str) -> list[dict[str, Any]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        raise InvocationError("Failed to parse input as a Pandas DataFrame: the CSV has no header row")
    header = rows[0]
    records = []
    for i, values in enumerate((r for r in rows[1:] if r), start=1):
        if len(values) != len(header):
            raise InvocationError(
                f"Failed to parse input as a Pandas DataFrame: row {i} has {len(values)} values for "
                f"{len(header)} columns"
            )
        records.append({k: (v if v != "" else None) for k, v in zip(header, values, strict=True)})
    return records


def _json_records(body: bytes) -> list[dict[str, Any]]:
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvocationError(f"Ensure that input is a valid JSON formatted string. Error: '{exc}'") from None
    if isinstance(raw, list):
        raise InvocationError(f"{MLFLOW_REQUIRED}. Received a list.")
    if not isinstance(raw, dict):
        raise InvocationError(f"{MLFLOW_REQUIRED}. Received unexpected input type '{type(raw).__name__}'.")
    formats = [k for k in raw if k in MLFLOW_FORMATS]
    if len(formats) != 1:
        raise InvocationError(f"{MLFLOW_REQUIRED}. Received dictionary with input fields: {list(raw)}.")
    key = formats[0]
    data = raw[key]
    if key == "dataframe_split":
        return _split_records(data)
    if key == "dataframe_records":
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise InvocationError("Dataframe records format must be a list of records (objects).")
        return [dict(r) for r in data]
    return _tensor_records(data, key)


def _split_records(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, dict):
        raise InvocationError(f"Dataframe split format must be a dictionary. Got {type(data).__name__}.")
    keys = set(data)
    if "data" not in keys or keys - {"columns", "data", "index"}:
        raise InvocationError(
            "Dataframe split format must have 'data' field and optionally 'columns' and 'index' "
            f"fields. Got {sorted(keys)}."
        )
    columns, rows = data.get("columns"), data["data"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InvocationError("Dataframe split format needs 'columns': a list of questionnaire field ids.")
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == len(columns) for r in rows):
        raise InvocationError(f"Dataframe split 'data' must be a list of rows of {len(columns)} values each.")
    return [dict(zip(columns, r, strict=True)) for r in rows]


def _tensor_records(data: Any, key: str) -> list[dict[str, Any]]:
    if isinstance(data, list):
        if not all(isinstance(r, dict) for r in data):
            raise InvocationError(f"'{key}' must be a list of records (objects) or an object of columns.")
        return [dict(r) for r in data]
    if not isinstance(data, dict):
        raise InvocationError(f"'{key}' must be a list of records (objects) or an object of columns.")
    lists = [isinstance(v, list) for v in data.values()]
    if not any(lists):
        return [dict(data)]
    lengths = {len(v) for v in data.values() if isinstance(v, list)}
    if not all(lists) or len(lengths) != 1:
        raise InvocationError(f"'{key}' columns must all be lists of the same length.")
    n = lengths.pop()
    return [{k: v[i] for k, v in data.items()} for i in range(n)]
