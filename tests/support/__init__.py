"""What the tests share, imported one way: ``from tests.support.<module> import ...``.

- :mod:`.factories`: small screening models built in code (no training, no MLflow).
- :mod:`.oracle`: a plain, independent scoring of a case, to check the engine against.
- :mod:`.api`: the API's test helpers (keys, the documented example, screening a case).
- :mod:`.fixtures`: the audit-database, key, app and PostgreSQL fixtures, registered for
  every test by ``tests/conftest.py`` (``pytest_plugins``).
- :mod:`.fairness`: small screening models and frames for the fairness audit.
- :mod:`.live`: a Tarozu API in a subprocess (:mod:`.launcher`), for the reliability tests.
"""
