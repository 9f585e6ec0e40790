"""A real (small) training run into a temporary MLflow: no secret reaches its artifacts, and
a corrupted registered artifact is a clear error that stops ``tarozu serve`` (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.config import load_config

HMAC_MARKER = "hmac-secret-marker-" + "q" * 30
KEY_MARKER = "tarozu_0123456789ab_api-key-marker-do-not-log"


@pytest.mark.slow
def test_training_leaks_no_secret_and_a_corrupt_artifact_stops_serving(
    mlflow_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline import registration
    from pipeline.train import train
    from serving import registry

    # Secrets a deployment would have in its environment while it trains.
    monkeypatch.setenv("TAROZU_HMAC_SECRET", HMAC_MARKER)
    monkeypatch.setenv("TAROZU_API_KEY", KEY_MARKER)
    monkeypatch.setenv("TAROZU_ENVIRONMENT", "production")
    config = load_config()
    small = config.model_copy(
        update={
            "data": config.data.model_copy(update={"rows": 4000, "seed": 3}),
            "calibration": config.calibration.model_copy(update={"ensemble_members": 3}),
            "evaluation": config.evaluation.model_copy(update={"bootstrap": 10}),
        }
    )
    result = train(small, work_dir=mlflow_home / "data")
    registration.set_alias(name=registry.MODEL_NAME, alias=registry.CHAMPION, version=result.version)
    assert registry.load_registered().version == result.version

    files = [p for p in mlflow_home.rglob("*") if p.is_file()]
    assert any(p.name == "screening_model.json" for p in files)
    for path in files:
        content = path.read_bytes()
        for secret in (HMAC_MARKER, KEY_MARKER):
            assert secret.encode() not in content, f"{secret} found in {path}"

    # Corrupt every stored copy of the registered artifact.
    artifacts = [p for p in files if p.name == "screening_model.json" and "data" not in p.parts[-3:-1]]
    for path in artifacts:
        path.write_bytes(b'{"fields": ["truncated')
    with pytest.raises(registry.BrokenModelError, match="version"):
        registry.load_registered()
    monkeypatch.setenv("TAROZU_HMAC_SECRET", "s" * 40)
    assert main(["serve", "--database-url", f"sqlite:///{mlflow_home / 'audit.db'}"]) == 2
    err = capsys.readouterr().err
    assert "not started" in err
    assert HMAC_MARKER not in err
