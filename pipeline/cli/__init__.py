"""The ``tarozu`` command: one entry point, one module per subcommand, all in this package.

Every subcommand is a module ``pipeline/cli/<name>.py`` exposing ``add_arguments(parser)``
and ``run(args) -> int``; the work itself lives in the library (``pipeline``, ``serving``,
``models``), never here. A subcommand's module is imported only when it runs, so that
``tarozu --help`` does not pay for importing MLflow, scikit-learn and the web stack (about
2.5 s together) and a broken optional dependency affects only its command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from pipeline.errors import CommandError

# name -> one-line help. The module is pipeline.cli.<name with "-" as "_">.
# Keep in the order a newcomer meets them.
COMMANDS: dict[str, str] = {
    "generate": "generate a synthetic screened population",
    "anonymity-check": "k-anonymity over the quasi-identifiers of a data file",
    "train": "train, calibrate, evaluate and register screening models",
    "promote": "compare @challenger with @champion and move @champion",
    "export": "export screenings with outcomes from the audit log as training data or HTCDS case data",
    "score": "bulk scoring of a file of cases, on one machine or on Spark (logged)",
    "audit": "fairness audit of a model or of what was screened",
    "serve": "start the scoring API and web page",
    "keys": "create, list and revoke API keys; print development keys",
    "audit-log": "verify the audit log's hash chain and recompute logged screenings",
    "model": "withdraw or reinstate the served model (the stop procedure)",
}


def module_name(command: str) -> str:
    """The module of a subcommand: ``pipeline.cli.<command>`` with dashes as underscores (named in full,
    not from ``__name__``: spark-submit runs this file as ``__main__``)."""
    return f"pipeline.cli.{command.replace('-', '_')}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tarozu",
        description="Tarozu: risk-screening decision support for counter-trafficking work.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
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
    help_text = COMMANDS[known.command]
    module = importlib.import_module(module_name(known.command))
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
