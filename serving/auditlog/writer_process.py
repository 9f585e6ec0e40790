"""The audit writer's process: ``python -m serving.auditlog.writer_process FD``, started by
:class:`serving.auditlog.writer.AuditWriter`, never by hand.

It reads lists of operations from its end of a socket pair (``FD``; the first message is its
settings), commits everything it has received in one transaction (up to ``max_rows`` rows), and
answers each list with its results, in order. It stops when it reads the stop message or when the
API process has gone (end of file): what it had received is committed first. It ignores SIGINT
and SIGTERM, which reach every process of a terminal's or a service's group, so that the API
process can finish its requests and then stop it.
"""

from __future__ import annotations

import logging
import selectors
import signal
import socket
import sys
from typing import Any

from serving.auditlog.database import make_engine
from serving.auditlog.writer import READ_BYTES, Committer, Operation, frame, unframe

_NOTHING = object()


class _Inbox:
    """The messages received and not yet committed; ``closed`` once the stop or the end was read."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.messages: list[Any] = []
        self.closed = False
        self.selector = selectors.DefaultSelector()
        self.selector.register(sock, selectors.EVENT_READ)

    def first(self) -> Any:
        """The first message, alone (the settings: they say how to read the others)."""
        while not self.closed:
            message = next(unframe(self.buffer), _NOTHING)  # unpickles one message at most
            if message is not _NOTHING:
                return message
            self._read()
        return None

    def receive(self, *, wait: bool) -> None:
        """Read what has arrived (waiting for something if ``wait``)."""
        self._parse()
        while not self.closed and self.selector.select(timeout=None if wait and not self.messages else 0):
            self._read()
            self._parse()

    def _read(self) -> None:
        data = self.sock.recv(READ_BYTES)
        if data:
            self.buffer += data
        else:
            self.closed = True

    def _parse(self) -> None:
        for message in unframe(self.buffer):
            if message is None:
                self.closed = True
                return
            self.messages.append(message)


def serve(inbox: _Inbox, committer: Committer, *, max_rows: int) -> None:
    while True:
        inbox.receive(wait=True)
        if not inbox.messages:
            return  # stopped, and everything received is committed and answered
        taken, rows = 0, 0
        while taken < len(inbox.messages) and (taken == 0 or rows < max_rows):
            rows += sum(op.rows_hint for op in inbox.messages[taken])
            taken += 1
        lists: list[list[Operation]] = inbox.messages[:taken]
        del inbox.messages[:taken]
        outcomes = committer.write([op for ops in lists for op in ops])
        replies, start = [], 0
        for ops in lists:
            replies.append(frame((committer.commits, outcomes[start : start + len(ops)])))
            start += len(ops)
        try:
            inbox.sock.sendall(b"".join(replies))
        except OSError:  # the API process has gone; what it sent is committed
            return


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock = socket.socket(fileno=int(argv[1]))
    sock.setblocking(True)
    inbox = _Inbox(sock)
    settings = inbox.first()
    if settings is None:
        return 0
    sys.path[:] = settings["path"]  # the operations' classes import as in the API process
    logging.basicConfig(level=settings["log_level"], format="%(levelname)s %(name)s: %(message)s")
    engine = make_engine(settings["url"], mode_warning=False)  # the API process has warned about its mode
    committer = Committer(engine)
    try:
        serve(inbox, committer, max_rows=settings["max_rows"])
    finally:
        committer.close()
        engine.dispose()
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
