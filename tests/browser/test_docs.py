"""/docs in a real browser: Swagger UI renders from the server's own files, with no request
to any other origin and no CSP violation; and in production there is no /docs at all."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_docs_render_from_local_files_only(page: Any, server: Any) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(server.url + "/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-summary-path")  # the operations, from /openapi.json
    page.wait_for_load_state("networkidle")
    assert "Tarozu screening API" in page.inner_text(".swagger-ui .info .title")
    origin = urlsplit(server.url).netloc
    outside = [u for u in requested if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != origin]
    assert outside == [], f"requests to other origins: {outside}"
    assert any(u.endswith("/docs/assets/swagger-ui-bundle.js") for u in requested)
    assert page.console_errors == [], page.console_errors  # a CSP violation is a console error
    assert "unsafe-inline" not in page.evaluate(
        "async () => (await fetch('/docs')).headers.get('content-security-policy')"
    )


def test_docs_are_off_in_production(page: Any, production_server: Any) -> None:
    for path in ("/docs", "/redoc", "/docs/assets/swagger-ui-bundle.js"):
        response = page.goto(production_server.url + path)
        assert response is not None
        assert response.status == 404, path
    assert page.goto(production_server.url + "/").status == 200  # the screening page stays
