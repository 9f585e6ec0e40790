"""Fairness of screening models and of what was screened, with a promotion gate.

:mod:`.audit` is the fairness audit of a model: its errors by group against labels (and synthetic
ground truth), with :mod:`.stats` for the comparisons; :mod:`.field` is the field review of what
was screened, decided and found, from the serving audit log; :mod:`.report` renders both as
self-contained HTML and JSON; :mod:`.gate` is the check ``tarozu promote`` runs.
``tarozu audit`` (:mod:`pipeline.cli.audit`) writes either report.
"""
