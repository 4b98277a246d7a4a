"""The sandbox's own responses carry security headers: its hosted pages a CSP that allows
their one <style> element by hash and no script at all; its API and errors the same basics."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx

from tests.sandbox.conftest import Harness


def _policy(response: httpx.Response) -> dict[str, str]:
    policy = {}
    for directive in response.headers["Content-Security-Policy"].split(";"):
        name, _, value = directive.strip().partition(" ")
        policy[name] = value
    return policy


def _basics(response: httpx.Response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    policy = _policy(response)
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "script-src" not in policy  # default-src 'none': no script runs


def test_the_checkout_page_allows_exactly_its_own_style(harness: Harness) -> None:
    session = harness.create_session()

    page = harness.http.get(f"/c/pay/{session.id}")

    assert page.status_code == 200
    _basics(page)
    styles = re.findall(rb"<style>(.*?)</style>", page.content, re.DOTALL)
    assert len(styles) == 1
    digest = base64.b64encode(hashlib.sha256(styles[0]).digest()).decode()
    assert _policy(page)["style-src"] == f"'sha256-{digest}'"
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    assert "<script" not in page.text
    assert " style=" not in page.text


def test_the_api_and_errors_carry_the_headers_too(harness: Harness) -> None:
    session = harness.create_session()
    api = harness.http.get(
        f"/v1/checkout/sessions/{session.id}", headers={"Authorization": "Bearer sk_test_x"}
    )
    missing = harness.http.get("/no/such/page")

    for response in (api, missing):
        _basics(response)
    assert missing.status_code == 404
    assert "style-src" not in _policy(api)
