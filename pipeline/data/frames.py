"""pandera, the one way this project imports it: without reaching for Spark.

pandera (0.27 and later) tries to import ``pyspark.pandas`` whenever pyspark is installed, as it is
here for ``tarozu score --engine spark``, and before that sets ``SPARK_LOCAL_IP=127.0.0.1`` and
``PYARROW_IGNORE_TIMEZONE=1`` in this process's environment for good (unionai-oss/pandera#2344).
Under pandas 3 that import prints pyspark's "does not yet fully support pandas >= 3.0.0"
FutureWarning twice and then fails (an ImportError pandera swallows): about 0.2 s and two warnings
on every ``tarozu generate``, ``train`` or ``audit``, and a variable left behind that binds a Spark
driver started later in the same process to the loopback address, where a cluster's executors
cannot reach it. Validating pandas frames needs none of it: the import of ``pyspark.pandas`` is
refused while pandera loads (and its pandas checks, which try again if pyspark was imported by then),
and the environment is put back as it was.
"""

from __future__ import annotations

import os
import sys

_SPARK_MODULE = "pyspark.pandas"
_VARIABLES = ("SPARK_LOCAL_IP", "PYARROW_IGNORE_TIMEZONE")

_before = {name: os.environ.get(name) for name in _VARIABLES}
_refused = _SPARK_MODULE not in sys.modules
if _refused:
    sys.modules[_SPARK_MODULE] = None  # type: ignore[assignment]  # "import pyspark.pandas" raises ImportError
try:
    # Loaded by the first validation otherwise, when it tries pyspark.pandas too if pyspark is imported by
    # then (MLflow imports it wherever it is installed): here that try fails at once and is not repeated.
    import pandera.backends.pandas.builtin_checks  # noqa: F401
    import pandera.errors as pa_errors
    import pandera.pandas as pa
finally:
    if _refused:
        del sys.modules[_SPARK_MODULE]  # a later import of it (by Spark code) loads it as usual
    for _name, _value in _before.items():
        if _value is None:
            os.environ.pop(_name, None)
        else:
            os.environ[_name] = _value

__all__ = ["pa", "pa_errors"]
