"""/api/docs works with no network: Swagger UI comes from the shop's own static files."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_api_docs_load_swagger_from_the_shop_itself(client):
    page = client.get("/api/docs")

    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(s.endswith("swagger-ui-bundle.js") for s in sources)
    assert all(s.startswith("/") for s in sources), sources  # nothing from another host
    for source in sources:
        if source.endswith((".js", ".css")):
            served = client.get(source)
            assert served.status_code == 200, source
            served.close()
