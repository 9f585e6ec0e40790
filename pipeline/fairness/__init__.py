"""Fairness audit of screening models and of what was screened, with a promotion gate.

:mod:`.audit` measures a model by group against labels (and synthetic ground truth),
:mod:`.log_audit` the whole decision process recorded by the serving audit log,
:mod:`.report` renders both as self-contained HTML and JSON, :mod:`.gate` is the check
``tarozu promote`` runs, and :mod:`.cmd` is ``tarozu audit``.
"""
