"""Run the Tarozu API on uvicorn with a test model (no MLflow), for the reliability tests.

``python -m tests.support.launcher --port P [--loader fixed|alternate]``; settings come
from ``TAROZU_*`` as for ``tarozu serve``. ``alternate`` switches between two very
different models (version "1" and version "2") on every load, so that reloads change the
numbers and a response that mixed versions would show it.
"""

from __future__ import annotations

import argparse
import itertools
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ALTERNATE_SEEDS = {"1": 0, "2": 7}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loader", choices=["fixed", "alternate"], default="fixed")
    args = parser.parse_args(argv)

    import uvicorn

    from serving.app import create_app
    from serving.registry import RegisteredModel
    from serving.settings import Settings
    from tests.support.factories import make_registered

    models = {v: make_registered(v, seed=s) for v, s in ALTERNATE_SEEDS.items()}
    if args.loader == "alternate":
        # Version 2 has a very different base value, so its numbers cannot pass for version 1's.
        for outcome in models["2"].model.outcomes.values():
            outcome.base_value += 2.5
    order = itertools.cycle(models.values()) if args.loader == "alternate" else itertools.repeat(models["1"])

    def loader(_settings: Settings) -> RegisteredModel:
        return next(order)

    settings = Settings(port=args.port)
    app = create_app(settings, model_loader=loader)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        workers=1,
        access_log=False,
        log_level="info",
        # as `tarozu serve`: X-Forwarded-For only from the configured proxies
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or [],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
