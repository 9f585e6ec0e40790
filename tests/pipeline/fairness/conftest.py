"""Fixtures of the fairness tests (helpers: :mod:`tests.support.fairness`)."""

from __future__ import annotations

import pytest

from models.screening import ScreeningModel
from tests.support.fairness import make_model


@pytest.fixture(scope="session")
def model() -> ScreeningModel:
    return make_model()
