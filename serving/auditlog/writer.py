"""The append-only audit log: one hash chain, a group-commit writer, and its verifier.

Every audit event (a screening, a decision, an outcome, a correction, a bulk scoring call, a
withdrawal or reinstatement of the model) is a row with a ``seq`` unique across the audit
tables, the ``hash`` of the previous event (``prev_hash``)
and its own ``hash = sha256(canonical JSON of the row's content + prev_hash)``. The
``chain_head`` row holds the last ``seq`` and hash, so that a truncated tail is detected too.

Writes go through one :class:`AuditWriter` per API process, which hands them to a process of its
own (:mod:`serving.auditlog.writer_process`), so that hashing rows and committing them take no time
from the requests' interpreter: request handlers submit an operation and await its future; the
operations of one turn of the event loop go over together, as one message. The writer's process
takes everything it has received, checks and writes it in one transaction (extending the chain in
order), commits (with fsync), and only then answers; the event loop resolves the futures when the
answer arrives. A request is answered only after its row is durable, and concurrent requests share
one commit. If the transaction fails, it rolls back and every waiting request gets a 503;
operations that fail their own checks (a second decision, a missing screening) fail alone. If the
writer's process dies, what it had not confirmed gets a 503 and ``/ready`` fails: the service needs
a restart, and nothing confirmed is lost. Between processes the chain is serialised by the database:
``BEGIN IMMEDIATE`` on SQLite, ``pg_advisory_xact_lock`` on PostgreSQL. The writer's few
statements are compiled once by SQLAlchemy and run on the DBAPI cursor (see
:class:`_Compiled`).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import heapq
import logging
import pickle
import selectors
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from serving.apierrors import (
    NO_SCREENING,
    ApiError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    ServiceUnavailableError,
)
from serving.auditlog.database import AUDIT_TABLES, IMMEDIATE, chain_head, corrections, decisions, screenings
from serving.auditlog.model_events import check_transition

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
CHAIN_LOCK = 0x7A72_7561  # pg_advisory_xact_lock key of the audit chain
MAX_ROWS_PER_COMMIT = 20_000

DECISION_EXISTS = "screening {id!r} already has a decision; a screening has one decision, and it is final"
REASON_REQUIRED = (
    "the decision {decision!r} differs from the recommendation (which matches {expected!r}); "
    "give a reason from the list in 'allowed'"
)
STALE_CORRECTION = (
    "field {field!r} currently has the value {current!r}, not {old!r}; fetch the screening and correct "
    "from its current value"
)
WRITE_FAILED = "the audit log could not be written, so nothing was recorded; retry shortly"
WRITER_STOPPED = "the audit log writer is not running; the service is shutting down or failed to start"
WRITER_LOST = (
    "the audit log writer stopped before confirming this write, so it may or may not be recorded; "
    "the service needs a restart"
)
STOP_TIMEOUT_S = 30.0
READ_BYTES = 1 << 20


@dataclass(frozen=True)
class _Compiled:
    """A statement compiled once for a dialect, executed on the DBAPI cursor.

    Executing through SQLAlchemy costs about seven times as much CPU as the statement itself
    on SQLite; the writer runs a handful per commit, so it compiles them once and runs them raw.
    """

    sql: str
    names: tuple[str, ...] | None  # parameter order for positional paramstyles
    defaults: dict[str, Any]

    @classmethod
    def of(cls, statement: Any, dialect: Any) -> _Compiled:
        compiled = statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup) if compiled.positional else None
        return cls(str(compiled), names, dict(compiled.params))

    def params(self, values: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **values}
        return tuple(merged[n] for n in self.names) if self.names is not None else merged


@dataclass(frozen=True)
class _Statements:
    head: _Compiled
    set_head: _Compiled
    insert_head: _Compiled
    insert: dict[str, _Compiled]
    lock: _Compiled | None

    @classmethod
    def for_engine(cls, engine: Engine) -> _Statements:
        d = engine.dialect
        where = chain_head.c.id == 1
        return cls(
            head=_Compiled.of(select(chain_head.c.seq, chain_head.c.hash).where(where), d),
            set_head=_Compiled.of(
                update(chain_head).where(where).values(seq=bindparam("head_seq"), hash=bindparam("head_hash")), d
            ),
            insert_head=_Compiled.of(insert(chain_head), d),
            insert={name: _Compiled.of(insert(table), d) for name, table in AUDIT_TABLES.items()},
            lock=_Compiled.of(select(func.pg_advisory_xact_lock(bindparam("key"))), d)
            if d.name == "postgresql"
            else None,
        )


def now() -> str:
    """The audit timestamp: UTC, microseconds, fixed width (so strings sort by time)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


LATER_COLUMNS = frozenset(
    {"override_reason", "response_sha256", "response_probabilities", "response_explain", "outlook_rule"}
)
"""Nullable columns added to tables that already held rows: left out of the hashed content when
empty, so that the rows written before them keep their hashes (and a value set later still breaks one)."""


def canonical(table: str, row: Mapping[str, Any]) -> bytes:
    """The bytes hashed for a row: its table and every column but ``hash``, keys sorted (an empty
    column of :data:`LATER_COLUMNS` is left out)."""
    content = {str(k): v for k, v in row.items() if k != "hash" and not (k in LATER_COLUMNS and v is None)}
    content["table"] = table
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def row_hash(table: str, row: Mapping[str, Any]) -> str:
    """``sha256`` of the row's canonical content, which includes ``prev_hash``."""
    return hashlib.sha256(canonical(table, row)).hexdigest()


# ---------------------------------------------------------------------------- operations
@dataclass
class _Chain:
    seq: int
    hash: str


class _Tx:
    """One writer transaction: the SQLAlchemy connection (for checks), its DBAPI cursor (for
    the hot statements), and screening rows waiting to be inserted in bulk."""

    def __init__(self, conn: Connection, statements: _Statements) -> None:
        self.conn = conn
        self.statements = statements
        self.cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        self.screenings: list[dict[str, Any]] = []

    def run(self, statement: _Compiled, values: Mapping[str, Any]) -> Any:
        self.cursor.execute(statement.sql, statement.params(values))
        return self.cursor

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        statement = self.statements.insert[table]
        self.cursor.executemany(statement.sql, [statement.params(r) for r in rows])

    def flush(self) -> None:
        if self.screenings:
            self.insert("screenings", self.screenings)
            self.screenings = []


class Operation:
    """One unit of work for the writer; ``apply`` checks, then appends rows to the chain.

    An operation that fails its checks raises an :class:`ApiError` before appending anything;
    the other operations of the transaction go on.
    """

    rows_hint = 1

    def apply(self, tx: _Tx, chain: _Chain) -> Any:
        raise NotImplementedError


def _append(table: str, row: dict[str, Any], chain: _Chain) -> dict[str, Any]:
    chain.seq += 1
    row["seq"] = chain.seq
    row["prev_hash"] = chain.hash
    row["hash"] = chain.hash = row_hash(table, row)
    return row


def _screening(conn: Connection, screening_id: str, columns: tuple[str, ...], *, owner: str | None = None) -> Any:
    """The screening's ``columns``; 404 if there is none, or if ``owner`` is given and another key
    screened it (the same 404, so that a screener cannot tell others' screening ids from unknown ones)."""
    wanted = [screenings.c[c] for c in columns]
    query = select(*wanted).where(screenings.c.screening_id == screening_id)
    if owner is not None:
        query = query.where(screenings.c.key_id == owner)
    row = conn.execute(query).one_or_none()
    if row is None:
        raise NotFoundError(NO_SCREENING.format(id=screening_id), field="screening_id", value=screening_id)
    return row


@dataclass
class AppendScreenings(Operation):
    """Screenings (one, or a whole batch: all or nothing). Result: ``[(seq, created_at)]``."""

    rows: list[dict[str, Any]]

    @property
    def rows_hint(self) -> int:  # type: ignore[override]
        return len(self.rows)

    def apply(self, tx: _Tx, chain: _Chain) -> list[tuple[int, str]]:
        stamp = now()
        out = []
        for row in self.rows:
            row["created_at"] = stamp
            tx.screenings.append(_append("screenings", row, chain))
            out.append((row["seq"], stamp))
        return out


DECISION_OF_STATUS = {"refer": "referred", "no_referral": "not_referred", "ask_more": "needs_more_information"}


def matching_decision(*, refer: bool, result: str | None) -> str:
    """The decision that follows the recommendation: ask_more is matched by needing more information."""
    status = orjson.loads(result).get("status") if result else None
    if status in DECISION_OF_STATUS:
        return DECISION_OF_STATUS[status]
    return "referred" if refer else "not_referred"  # rows logged before statuses existed


@dataclass
class AppendDecision(Operation):
    """The human decision; refused if one exists or a needed reason is missing.

    ``owner`` is the key id that must have screened the case (the screener's own key); None for
    a supervisor's override, whose row carries ``override_reason``. Checked in the transaction
    that writes the decision, so the check and the write cannot be split.
    """

    row: dict[str, Any]
    reasons: tuple[str, ...]
    owner: str | None

    def apply(self, tx: _Tx, chain: _Chain) -> dict[str, Any]:
        tx.flush()
        conn = tx.conn
        sid = self.row["screening_id"]
        refer, result = _screening(conn, sid, ("refer", "result"), owner=self.owner)
        taken = conn.execute(select(decisions.c.seq).where(decisions.c.screening_id == sid)).first()
        if taken is not None:
            raise ConflictError(DECISION_EXISTS.format(id=sid), field="screening_id", value=sid)
        decision = self.row["decision"]
        expected = matching_decision(refer=bool(refer), result=result)
        differs = decision != expected
        if differs and self.row.get("reason") is None:
            raise InvalidInputError(
                REASON_REQUIRED.format(decision=decision, expected=expected),
                field="reason",
                value=None,
                allowed=list(self.reasons),
                code="reason_required",
            )
        row = {**self.row, "recommendation_refer": bool(refer), "differs": differs, "created_at": now()}
        tx.insert("decisions", [_append("decisions", row, chain)])
        return row


@dataclass
class AppendOutcome(Operation):
    row: dict[str, Any]

    def apply(self, tx: _Tx, chain: _Chain) -> dict[str, Any]:
        tx.flush()
        _screening(tx.conn, self.row["screening_id"], ("seq",))
        row = {**self.row, "created_at": now()}
        tx.insert("outcomes", [_append("outcomes", row, chain)])
        return row


@dataclass
class AppendCorrection(Operation):
    """A correction of one field, checked against the field's current (corrected) value.

    ``current`` maps the screening's original values and earlier corrections to the current
    value of the field; the route has already checked the new value. ``owner`` as for
    :class:`AppendDecision`.
    """

    row: dict[str, Any]
    current: Callable[[Any, list[Any]], Any]
    owner: str | None

    def apply(self, tx: _Tx, chain: _Chain) -> dict[str, Any]:
        tx.flush()
        conn = tx.conn
        sid = self.row["screening_id"]
        original = _screening(conn, sid, ("answers", "context", "audit", "screener_assessment"), owner=self.owner)
        earlier = conn.execute(
            select(corrections.c.field, corrections.c.new_value)
            .where(corrections.c.screening_id == sid)
            .order_by(corrections.c.seq)
        ).all()
        current = self.current(original, list(earlier))
        old = orjson.loads(self.row["old_value"])
        if current != old:
            raise ConflictError(
                STALE_CORRECTION.format(field=self.row["field"], current=current, old=old),
                field="old_value",
                value=old,
                allowed=[current],
                code="stale_value",
            )
        row = {**self.row, "created_at": now()}
        tx.insert("corrections", [_append("corrections", row, chain)])
        return row


@dataclass
class AppendBulkScoring(Operation):
    """One bulk scoring call (``/invocations`` or ``:batch``): who, when, which model, how many rows."""

    row: dict[str, Any]

    def apply(self, tx: _Tx, chain: _Chain) -> dict[str, Any]:
        tx.flush()
        row = {**self.row, "created_at": now()}
        tx.insert("bulk_scorings", [_append("bulk_scorings", row, chain)])
        return row


@dataclass
class AppendModelEvent(Operation):
    """A withdrawal or reinstatement of a model version (409 if it changes nothing)."""

    row: dict[str, Any]

    def apply(self, tx: _Tx, chain: _Chain) -> dict[str, Any]:
        tx.flush()
        check_transition(tx.conn, self.row)
        row = {**self.row, "created_at": now()}
        tx.insert("model_events", [_append("model_events", row, chain)])
        return row


# ---------------------------------------------------------------------------- committing
class Committer:
    """Writes operations to the chain: one transaction for many, each checked on its own.

    It runs in the writer's process (:mod:`serving.auditlog.writer_process`) and, for a single
    append from a command line, in the caller's (:meth:`AuditWriter.append_once`).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._statements = _Statements.for_engine(engine)
        dbapi = engine.dialect.dbapi
        self._integrity_errors: tuple[type[Exception], ...] = (
            (IntegrityError, dbapi.IntegrityError) if dbapi is not None else (IntegrityError,)
        )
        self.commits = 0

    def write(self, ops: list[Operation]) -> list[tuple[Any, ApiError | None]]:
        """Each operation's result or error, once they are committed together (or none is)."""
        try:
            return self._transaction(ops)
        except Exception as exc:  # the whole transaction rolled back
            if len(ops) > 1 and isinstance(exc, self._integrity_errors):
                return [outcome for op in ops for outcome in self.write([op])]  # isolate the offending operation
            logger.error("audit log transaction of %d operations failed: %s", len(ops), type(exc).__name__)
            failure = _as_api_error(exc, self._integrity_errors)
            return [(None, failure) for _ in ops]

    def close(self, *, invalidate: bool = False) -> None:
        if self._conn is not None:
            if invalidate:  # its state is unknown after a failure: discard it, not back to the pool
                self._conn.invalidate()
            self._conn.close()
            self._conn = None

    def _connection(self) -> Connection:
        """The writer's own connection, kept open between transactions."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.engine.connect().execution_options(**{IMMEDIATE: True})
        return self._conn

    def _transaction(self, ops: list[Operation]) -> list[tuple[Any, ApiError | None]]:
        outcomes: list[tuple[Any, ApiError | None]] = []
        conn = self._connection()
        sql = self._statements
        try:
            with conn.begin():  # BEGIN IMMEDIATE on SQLite
                tx = _Tx(conn, sql)
                if sql.lock is not None:
                    tx.run(sql.lock, {"key": CHAIN_LOCK})
                head = tx.run(sql.head, {}).fetchone()
                chain = _Chain(seq=head[0], hash=head[1]) if head else _Chain(seq=0, hash=GENESIS)
                start = chain.seq
                for op in ops:
                    try:
                        outcomes.append((op.apply(tx, chain), None))
                    except ApiError as exc:  # its checks failed before it appended anything
                        outcomes.append((None, exc))
                tx.flush()
                if chain.seq != start:
                    if head is None:
                        tx.run(sql.insert_head, {"id": 1, "seq": chain.seq, "hash": chain.hash})
                    else:
                        tx.run(sql.set_head, {"head_seq": chain.seq, "head_hash": chain.hash})
                tx.cursor.close()
        except Exception:
            self.close(invalidate=True)  # a fresh connection for the next transaction
            raise
        self.commits += 1
        return outcomes


def _as_api_error(exc: Exception, integrity: tuple[type[Exception], ...]) -> ApiError:
    if isinstance(exc, integrity) and "decisions" in str(getattr(exc, "orig", exc)):
        return ConflictError("the screening already has a decision", code="conflict")
    return ServiceUnavailableError(WRITE_FAILED, code="audit_log_unavailable")


# ---------------------------------------------------------------------------- the writer's messages
_LENGTH = struct.Struct(">Q")


def frame(message: Any) -> bytes:
    """A message between the API process and the writer's: its length, then its pickle."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(body)) + body


def unframe(buffer: bytearray) -> Iterator[Any]:
    """The whole messages at the start of ``buffer``, removed from it as they are read."""
    while len(buffer) >= _LENGTH.size:
        (size,) = _LENGTH.unpack_from(buffer)
        end = _LENGTH.size + size
        if len(buffer) < end:
            return
        message = pickle.loads(buffer[_LENGTH.size : end])  # noqa: S301 (only ever from the other end of our own socket pair)
        del buffer[:end]
        yield message


# ---------------------------------------------------------------------------- the writer
class AuditWriter:
    """The API process's single writer of the audit chain: a process of its own; see the module docstring.

    The operations submitted in one turn of the event loop go to the writer's process as one
    message over a socket pair, without waiting for the ones before to be committed; its replies
    (the results, in order) are read by the event loop when they arrive. The process commits
    everything it has received in one transaction, so concurrent requests share a commit, and its
    CPU (row hashes, SQLite, the commit) is off the API process's interpreter lock.
    """

    def __init__(self, engine: Engine, *, max_rows: int = MAX_ROWS_PER_COMMIT) -> None:
        self.engine = engine
        self.max_rows = max_rows
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop that reads the replies
        self._pending: list[tuple[Operation, asyncio.Future[Any]]] = []  # submitted in this turn of the loop
        self._in_flight: collections.deque[list[asyncio.Future[Any]]] = collections.deque()  # sent, in order
        self._outgoing = bytearray()  # not yet taken by the socket
        self._incoming = bytearray()
        self._lost = False
        self._given = False  # anything handed to this process (it then has to be stopped in order)
        self.commits = 0

    def start(self) -> None:
        """Start the writer's process (it connects to the database itself)."""
        if self._process is not None:
            return
        ours, theirs = socket.socketpair()
        with theirs:
            self._process = subprocess.Popen(  # noqa: S603 (this interpreter, our own module, no shell)
                [sys.executable, "-m", "serving.auditlog.writer_process", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # not in the terminal's group: Ctrl-C stops the API process, which stops it
            )
        # Its settings go over the socket, not the command line, where others could read the URL's password.
        ours.sendall(
            frame(
                {
                    "url": self.engine.url.render_as_string(hide_password=False),
                    "max_rows": self.max_rows,
                    "path": sys.path,
                    "log_level": logging.getLogger().getEffectiveLevel(),
                }
            )
        )
        ours.setblocking(False)
        self._sock = ours
        self._lost = False
        self._given = False

    def stop(self, *, timeout: float = STOP_TIMEOUT_S) -> None:
        """Write what is queued, wait for its replies, then stop the process.

        A process that was never given anything holds nothing to commit: it is stopped at once, not
        waited for while it may still be starting (about half a second of imports).
        """
        if self._process is None or self._sock is None:
            return
        if self._pending:  # submitted in this turn of the loop: write them too
            self._hand_over()
        self._detach()
        if self._given:
            self._outgoing += frame(None)
            if not self._lost:
                self._drain(timeout)
        else:
            self._process.kill()
        self._fail_in_flight(ServiceUnavailableError(WRITER_STOPPED, code="audit_log_unavailable"))
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            logger.error("the audit log writer did not stop within %s s; killing it", timeout)
            self._process.kill()
            self._process.wait()
        self._sock.close()
        self._process = self._sock = None

    @property
    def running(self) -> bool:
        return self._process is not None and not self._lost and self._process.poll() is None

    async def submit(self, op: Operation) -> Any:
        """Queue ``op`` and wait until it is committed; raises its error (an ApiError)."""
        if not self.running:
            raise ServiceUnavailableError(WRITER_STOPPED, code="audit_log_unavailable")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._attach(loop)
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._hand_over)
        self._pending.append((op, future))
        return await future

    @classmethod
    def append_once(cls, engine: Engine, op: Operation) -> Any:
        """Commit one operation from outside the API (a command line), in this process."""
        committer = Committer(engine)
        try:
            [(value, error)] = committer.write([op])
        finally:
            committer.close()
        if error is not None:
            raise error
        return value

    # -- the event loop's side
    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read the replies on ``loop`` (the first that submits; another, once that one has closed)."""
        if self._loop is not None and not self._loop.is_closed():
            if self._loop.is_running():
                raise RuntimeError("the audit writer is in use by another running event loop; use one writer per loop")
            self._detach()
        assert self._sock is not None
        self._loop = loop
        loop.add_reader(self._sock.fileno(), self._on_readable)
        if self._outgoing:
            loop.add_writer(self._sock.fileno(), self._on_writable)

    def _detach(self) -> None:
        if self._loop is not None and not self._loop.is_closed() and self._sock is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._loop.remove_writer(self._sock.fileno())
        self._loop = None

    def _hand_over(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self._given = True
        self._in_flight.append([future for _, future in batch])
        if self._lost:
            self._fail_in_flight(ServiceUnavailableError(WRITER_LOST, code="audit_log_unavailable"))
            return
        self._outgoing += frame([op for op, _ in batch])
        self._on_writable()

    def _on_writable(self) -> None:
        assert self._sock is not None
        try:
            sent = self._sock.send(self._outgoing)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._lose()
            return
        del self._outgoing[:sent]
        if self._loop is not None:
            if self._outgoing:
                self._loop.add_writer(self._sock.fileno(), self._on_writable)
            else:
                self._loop.remove_writer(self._sock.fileno())

    def _on_readable(self) -> None:
        if not self._receive():
            self._lose()

    def _receive(self) -> bool:
        """Read what has arrived and settle the replies it completes; False once the writer's end is closed."""
        assert self._sock is not None
        try:
            data = self._sock.recv(READ_BYTES)
        except BlockingIOError:
            return True
        except OSError:
            data = b""
        if not data:
            return False
        self._incoming += data
        for commits, outcomes in unframe(self._incoming):
            self.commits = commits
            for future, (value, error) in zip(self._in_flight.popleft(), outcomes, strict=True):
                _settle(future, value, error)
        return True

    def _lose(self) -> None:
        """The writer's process has gone: what it had not confirmed fails (it may or may not be written)."""
        if not self._lost:
            self._lost = True
            code = self._process.poll() if self._process is not None else None
            logger.error("the audit log writer's process exited (code %s); the API cannot write", code)
        self._detach()
        self._fail_in_flight(ServiceUnavailableError(WRITER_LOST, code="audit_log_unavailable"))

    def _fail_in_flight(self, error: ApiError) -> None:
        while self._in_flight:
            for future in self._in_flight.popleft():
                _settle(future, None, error)

    def _drain(self, timeout: float) -> None:
        """Send what is left and read every reply, without the event loop (the process then exits)."""
        assert self._sock is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._outgoing else 0)
                selector.modify(self._sock, events)
                for _key, mask in selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    if mask & selectors.EVENT_WRITE:
                        self._on_writable()
                    if mask & selectors.EVENT_READ and not self._receive():
                        return  # the process has read the stop and closed its end
            logger.error("the audit log writer did not finish within %s s", timeout)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done() or future.get_loop().is_closed():  # cancelled, or its loop has ended
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


# ---------------------------------------------------------------------------- verification
@dataclass(frozen=True)
class ChainProblem:
    seq: int
    table: str
    problem: str

    def __str__(self) -> str:
        return f"row {self.seq} ({self.table}): {self.problem}"


@dataclass(frozen=True)
class VerifyReport:
    rows: int
    head_hash: str
    problem: ChainProblem | None

    @property
    def intact(self) -> bool:
        return self.problem is None


def _table_rows(conn: Connection, name: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    table = AUDIT_TABLES[name]
    for row in conn.execute(select(table).order_by(table.c.seq)):
        content = row._asdict()
        yield content["seq"], name, content


def _rows(conn: Connection) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Every audit row of every table, merged in ``seq`` order (streamed, not loaded at once)."""
    streams = [_table_rows(conn, name) for name in AUDIT_TABLES]
    yield from heapq.merge(*streams, key=lambda r: (r[0], r[1]))


def verify_chain(engine: Engine) -> VerifyReport:
    """Walk the chain in ``seq`` order and name the first row that was edited, deleted,
    inserted or moved; also check the stored head against the last row."""
    expected_seq, previous_hash, count = 1, GENESIS, 0
    with engine.connect() as conn:
        for seq, table, row in _rows(conn):
            count += 1
            if seq < expected_seq:
                return VerifyReport(
                    count,
                    previous_hash,
                    ChainProblem(seq, table, "a second row with this sequence number (inserted)"),
                )
            if seq > expected_seq:
                missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq} to {seq - 1}"
                return VerifyReport(
                    count,
                    previous_hash,
                    ChainProblem(expected_seq, table, f"missing: row {missing} was deleted (the chain jumps to {seq})"),
                )
            if row["prev_hash"] != previous_hash:
                return VerifyReport(
                    count,
                    previous_hash,
                    ChainProblem(
                        seq,
                        table,
                        "its prev_hash is not the hash of row "
                        f"{seq - 1}: a row before it was changed, removed, inserted or reordered",
                    ),
                )
            if row_hash(table, row) != row["hash"]:
                return VerifyReport(
                    count,
                    previous_hash,
                    ChainProblem(seq, table, "its content does not match its hash: the row was edited"),
                )
            expected_seq, previous_hash = seq + 1, row["hash"]
        head = conn.execute(select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1)).first()
    last = expected_seq - 1
    if head is None and last:
        return VerifyReport(count, previous_hash, ChainProblem(last, "chain_head", "the chain head record is missing"))
    if head is not None and (head.seq, head.hash) != (last, previous_hash):
        if head.seq > last:
            problem = f"rows {last + 1} to {head.seq} were deleted from the end (the head says {head.seq})"
            return VerifyReport(count, previous_hash, ChainProblem(last + 1, "chain_head", problem))
        return VerifyReport(
            count,
            previous_hash,
            ChainProblem(head.seq, "chain_head", "the chain head does not match the last row"),
        )
    return VerifyReport(count, previous_hash, None)
