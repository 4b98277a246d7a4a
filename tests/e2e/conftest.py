import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are ordinary blocking calls, which Django must be told is fine.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


# --- accessibility (axe-core) and phone-layout helpers (issue 11, part 6) ---

AXE_VERSION = "4"
AXE_DIR = Path(__file__).resolve().parents[2] / "var" / "axe"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's browser build, fetched once with `npm pack` into var/axe/ (never committed).

    Fails rather than skips: an accessibility check that silently did not run proves nothing.
    """
    script = AXE_DIR / "package" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing: install it (apt-get install -y npm) to run axe-core")
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        packed = subprocess.run(
            [npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", str(AXE_DIR)],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        tarballs = sorted(AXE_DIR.glob("axe-core-*.tgz"))
        if packed.returncode != 0 or not tarballs:
            pytest.fail(f"could not fetch axe-core with npm pack: {packed.stderr[-2000:]}")
        with tarfile.open(tarballs[-1]) as archive:
            archive.extract("package/axe.min.js", AXE_DIR, filter="data")
    return script.read_text(encoding="utf-8")


@pytest.fixture
def csp_violations(page: Any) -> list[str]:
    """Every message in which Chromium says it refused something under the policy."""
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.log('Content Security Policy violation: ' + e.violatedDirective))"
    )
    return seen


@pytest.fixture
def media_in_browser(page: Any, settings: Any, tmp_path: Path) -> Path:
    """Photos written to a temporary MEDIA_ROOT, served to the page by Playwright (the app's
    /media/ route reads the MEDIA_ROOT it started with)."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root

    def fulfil(route: Any) -> None:
        path = urlsplit(route.request.url).path.removeprefix("/media/")
        file = (root / path).resolve()
        if file.is_relative_to(root) and file.is_file():
            route.fulfill(path=str(file))
        else:
            route.fulfill(status=404, body="")

    page.route("**/media/**", fulfil)
    return root


@pytest.fixture
def axe_check(axe_source: str) -> Callable[..., list[dict[str, Any]]]:
    """Run axe-core on the page as it is at 390 px and at 1280 px, save a screenshot of each
    to var/screenshots/a11y-<name>-<width>.png, and return the serious and critical violations.

    axe is evaluated in the page's context through the DevTools protocol: a <script> tag
    (even Playwright's add_script_tag) would be inline script, which the shop's CSP refuses.
    """

    def check(page: Any, name: str) -> list[dict[str, Any]]:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        found: list[dict[str, Any]] = []
        for viewport in (PHONE, DESKTOP):
            page.set_viewport_size(viewport)
            if not page.evaluate("() => typeof window.axe === 'object'"):
                page.evaluate(axe_source)
            if not page.evaluate("() => typeof window.axe === 'object'"):
                pytest.fail("axe-core could not be loaded into the page")
            result = page.evaluate(
                "() => axe.run(document, {resultTypes: ['violations']})"
                ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
                " nodes: v.nodes.map(n => n.target.join(' '))})))"
            )
            width = viewport["width"]
            page.screenshot(path=str(SCREENSHOTS / f"a11y-{name}-{width}.png"), full_page=True)
            found += [
                {**v, "page": name, "width": width}
                for v in result
                if v["impact"] in ("serious", "critical")
            ]
        return found

    return check
