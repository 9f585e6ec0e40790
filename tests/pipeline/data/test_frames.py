"""pandera is imported without pyspark.pandas: no Spark warnings, no change to the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CHECK = """
import json, os, sys
if sys.argv[1] == "pyspark first":
    import mlflow.types  # imports pyspark wherever it is installed
import pipeline.data.schema, pipeline.fairness.field
from pipeline.data.frames import pa
import pandas as pd
pa.DataFrameSchema({"a": pa.Column(int)}).validate(pd.DataFrame({"a": [1]}))
print(json.dumps({
    "pyspark": "pyspark" in sys.modules,
    "pyspark.pandas": sys.modules.get("pyspark.pandas", "absent"),  # not loaded, and not left refused (None)
    "spark_local_ip": os.environ.get("SPARK_LOCAL_IP"),
    "pyarrow_ignore_timezone": os.environ.get("PYARROW_IGNORE_TIMEZONE"),
}))
"""


@pytest.mark.parametrize("order", ["pyspark first", "pyspark never"])
def test_importing_the_data_checks_leaves_spark_alone(order: str) -> None:
    """A data command (generate, train, audit) neither tries pyspark.pandas (0.2 s of imports, a pandas 3
    warning printed twice, then an ImportError pandera swallows) nor leaves SPARK_LOCAL_IP=127.0.0.1
    behind, which would bind a Spark driver started later in the process to loopback; a variable the
    user set keeps its value. With pyspark imported before (by MLflow, as in ``tarozu train``) the first
    validation does not try pyspark.pandas either."""
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_LOCAL_IP", "PYARROW_IGNORE_TIMEZONE")}
    env["PYARROW_IGNORE_TIMEZONE"] = "0"
    done = subprocess.run([sys.executable, "-c", CHECK, order], capture_output=True, text=True, env=env, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    expected = {
        "pyspark": order == "pyspark first",
        "pyspark.pandas": "absent",
        "spark_local_ip": None,
        "pyarrow_ignore_timezone": "0",
    }
    assert seen == expected
    assert "FutureWarning" not in done.stderr, done.stderr[-2000:]
