"""Loading ``name@alias``: the direct read of the registry's tables agrees with MLflow's client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline import registration
from pipeline.train import FittedScreening
from serving import registry


def _register(model: Any, *, card: dict[str, Any], alias: str) -> str:
    import mlflow

    experiment = registration.ensure_experiment("registry-test")
    with mlflow.start_run(experiment_id=experiment):
        mlflow.log_dict(card, "model_card/model_card.json")
        version, _ = registration.log_screening_model(model, registered_name=registry.MODEL_NAME)
    assert version is not None
    registration.set_alias(name=registry.MODEL_NAME, alias=alias, version=version)
    return version


@pytest.mark.slow
def test_direct_registry_read_equals_mlflow_client(
    trained: FittedScreening, mlflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = registry.resolve_tracking_uri()
    with pytest.raises(registry.NoChampionError, match="tarozu train"):
        registry.load_registered()  # an empty registry: nothing to serve, and says how to fix it

    first = _register(trained.model, card={"model_details": {"version": "first"}}, alias=registry.CHAMPION)
    second = _register(trained.model, card={"model_details": {"version": "second"}}, alias=registry.CHALLENGER)
    assert (first, second) == ("1", "2")

    for alias, version, card_version in ((registry.CHAMPION, "1", "first"), (registry.CHALLENGER, "2", "second")):
        direct = registry._locate_sql(registry.MODEL_NAME, alias, uri)
        assert direct is not None, "a local SQLite registry is read directly"
        client = registry._locate_mlflow(registry.MODEL_NAME, alias, uri)
        assert client is not None
        assert direct.card is not None
        assert client.card is not None
        assert (direct.version, direct.run_id, direct.model_dir) == (client.version, client.run_id, client.model_dir)
        assert direct.card.read_bytes() == client.card.read_bytes()  # MLflow hands back a copy
        loaded = registry.load_registered(alias=alias)
        assert (loaded.version, loaded.alias, loaded.card["model_details"]["version"]) == (version, alias, card_version)
        assert loaded.model.to_dict() == trained.model.to_dict()

    # Moving an alias is seen at once (reload reads the registry each time).
    registration.set_alias(name=registry.MODEL_NAME, alias=registry.CHAMPION, version=second)
    assert registry.load_registered().version == "2"
    assert registry._locate_sql(registry.MODEL_NAME, "no-such-alias", uri) is None
    monkeypatch.setenv("MLFLOW_WORKSPACE", "field-office")  # the query reads the default workspace only
    assert registry._locate_sql(registry.MODEL_NAME, registry.CHAMPION, uri) is None


def test_direct_read_leaves_other_stores_to_mlflow(tmp_path: Path) -> None:
    assert registry._locate_sql(registry.MODEL_NAME, registry.CHAMPION, "http://127.0.0.1:9/") is None
    assert registry._locate_sql(registry.MODEL_NAME, registry.CHAMPION, "databricks") is None
    no_driver = "mssql+nosuchdriver://user@127.0.0.1:9/mlflow"  # no such DBAPI module installed
    assert registry._locate_sql(registry.MODEL_NAME, registry.CHAMPION, no_driver) is None
    missing = tmp_path / "absent.db"
    assert registry._locate_sql(registry.MODEL_NAME, registry.CHAMPION, f"sqlite:///{missing}") is None
    assert not missing.exists(), "the direct read must not create a tracking database"
    other = tmp_path / "other.db"
    other.write_bytes(b"")  # an SQLite file without MLflow's tables
    assert registry._locate_sql(registry.MODEL_NAME, registry.CHAMPION, f"sqlite:///{other}") is None


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("models:/tarozu-screening@champion", ("tarozu-screening", "champion", None)),
        ("models:/tarozu-screening/12", ("tarozu-screening", None, "12")),
    ],
)
def test_a_registry_address_names_an_alias_or_a_version(uri: str, parsed: tuple[str, str | None, str | None]) -> None:
    assert registry.parse_model_uri(uri) == parsed


@pytest.mark.parametrize(
    "uri",
    ["tarozu-screening@champion", "models:/@champion", "models:/m@", "models:/m/latest", "models:/m/1/2", "runs:/x"],
)
def test_anything_else_is_refused_with_both_forms_named(uri: str) -> None:
    with pytest.raises(ValueError, match="models:/NAME@ALIAS or models:/NAME/VERSION") as refused:
        registry.parse_model_uri(uri)
    assert repr(uri) in str(refused.value)
