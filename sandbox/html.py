"""The frame of the sandbox's hosted pages (plain, accessible, no external assets)."""

from __future__ import annotations

import base64
import hashlib
import re
from html import escape

_STYLE_RE = re.compile(rb"<style>(.*?)</style>", re.DOTALL)

BASE_STYLE = """
body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;
color:#1a1a1a;line-height:1.5}
.banner{background:#fff4cc;border:1px solid #b38f00;padding:.5rem .75rem;border-radius:.25rem}
form{display:flex;flex-direction:column;gap:.6rem}
button{font:inherit;padding:.7rem 1rem;border-radius:.3rem;border:2px solid #1a1a1a;
background:#fff;cursor:pointer;text-align:left}
button:focus-visible{outline:3px solid #0a58ca;outline-offset:2px}
"""


def page(title: str, body: str, *, style: str = "") -> str:
    """A whole HTML document: the base style plus a provider's own rules."""
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{BASE_STYLE}{style}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def banner(provider: str, buttons_choose: str) -> str:
    """Says plainly that this is a simulator and no money moves."""
    return (
        f'<p class="banner" role="note">Payment sandbox: this is not {escape(provider)}, and no '
        f"money moves. The buttons choose what {escape(buttons_choose)} would do.</p>"
    )


def security_headers(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """The headers every sandbox response carries, as a real provider's pages would.

    A hosted page's only inline part is its <style> element: the policy allows exactly
    that element (by hash) and nothing else — no script at all. Its forms post to the
    sandbox, which redirects on to the shop, so `form-action` is left open.
    """
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
    ]
    policy = "default-src 'none'"
    if content_type.startswith("text/html"):
        hashes = [
            f"'sha256-{base64.b64encode(hashlib.sha256(css).digest()).decode()}'"
            for css in _STYLE_RE.findall(body)
        ]
        if hashes:
            policy += "; style-src " + " ".join(hashes)
    headers.append(
        ("Content-Security-Policy", policy + "; base-uri 'none'; frame-ancestors 'none'")
    )
    return headers
