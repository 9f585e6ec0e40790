"""The ``tarozu`` command: one entry point, one subcommand per job.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their subcommand runs, so that
``tarozu --help`` stays fast and a broken optional dependency affects only its command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# name -> (module, one-line help). Keep in the order a newcomer meets them.
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("pipeline.data.generate_cmd", "generate a synthetic screened population"),
    "anonymity-check": ("pipeline.data.anonymity", "k-anonymity over the quasi-identifiers of a data file"),
    "train": ("pipeline.train", "train, calibrate, evaluate and register screening models"),
    "promote": ("pipeline.promote", "compare @challenger with @champion and move @champion"),
    "export": (
        "pipeline.export",
        "export screenings with outcomes from the audit log as training data or HTCDS case data",
    ),
    "score": ("pipeline.score", "bulk scoring of a file of cases, on one machine or on Spark (logged)"),
    "audit": ("pipeline.fairness.cmd", "fairness audit of a model or of what was screened"),
    "serve": ("serving.cmd", "start the scoring API and web page"),
    "keys": ("serving.keys_cmd", "create, list and revoke API keys"),
    "audit-log": ("serving.audit_log_cmd", "verify the audit log's hash chain"),
    "model": ("serving.model_cmd", "withdraw or reinstate the served model (the stop procedure)"),
}


class CommandError(Exception):
    """A command failed for a reason the user can fix; the message says how."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tarozu",
        description="Tarozu: risk-screening decision support for counter-trafficking work.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tarozu`` with ``argv``; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top = build_parser()
    known, rest = top.parse_known_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if known.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    module_name, help_text = COMMANDS[known.command]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"tarozu {known.command}", description=help_text)
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.run(args))
    except (CommandError, ValueError, FileNotFoundError, PermissionError) as exc:
        print(f"tarozu {known.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
