"""One home and one convention for the ``tarozu`` command: every subcommand is a module of
``pipeline/cli`` with ``add_arguments`` and ``run``, and every such module is a subcommand."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import subprocess
import sys

import pytest

import pipeline.cli
from pipeline.cli import COMMANDS, build_parser, main, module_name


def test_every_module_of_the_cli_package_is_a_listed_command() -> None:
    modules = {info.name for info in pkgutil.iter_modules(pipeline.cli.__path__)} - {"__main__"}
    assert modules == {name.replace("-", "_") for name in COMMANDS}


def test_python_dash_m_runs_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert all(command in done.stdout for command in COMMANDS)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_follows_the_convention(command: str) -> None:
    module = importlib.import_module(module_name(command))
    parser = argparse.ArgumentParser(prog=f"tarozu {command}")
    module.add_arguments(parser)
    assert callable(module.run)
    assert module.__doc__ is not None
    assert module.__doc__.startswith(f"``tarozu {command}``")


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["--help"])
    assert stopped.value.code == 0
    listed = capsys.readouterr().out
    for command, help_text in COMMANDS.items():
        assert command in listed
        assert help_text.split(";")[0] in " ".join(listed.split())


def test_an_unknown_command_is_refused_with_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["retrain-everything"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'retrain-everything'" in err
    assert "train" in err
