"""``python -m pipeline.cli``: the ``tarozu`` command without its console script (e.g. on a Spark driver)."""

from pipeline.cli import main

raise SystemExit(main())
