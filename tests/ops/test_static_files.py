"""The shop's CSS, scripts and icons on the production stack (collectstatic, then granian with
WhiteNoise, as the Dockerfile runs them): pages name them under content-hashed names, which
browsers may keep for good; a name without a hash is kept a minute only."""

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.factories import PuppyFactory
from tests.resilience.servers import PROJECT_DIR, kennel_env, own_process_database_url, web_server

pytestmark = pytest.mark.django_db(transaction=True)
YEAR = 31_536_000


def _max_age(cache_control: str) -> int:
    found = re.search(r"max-age=(\d+)", cache_control)
    assert found, cache_control
    return int(found.group(1))


def test_the_shops_static_files_are_named_by_their_content_and_cached_for_good(tmp_path: Path):
    """Tried: site.css and the scripts were served with max-age=60 (their names carried no
    hash), so every visitor's browser asked for them again a minute later."""
    static_root = tmp_path / "static"
    env = kennel_env(own_process_database_url(), STATIC_ROOT=str(static_root))
    subprocess.run(
        [sys.executable, "-m", "kennel", "collectstatic", "--noinput", "-v0"],
        cwd=PROJECT_DIR,
        env=env,
        check=True,
    )
    puppy = PuppyFactory()

    with web_server(env) as url:
        catalogue = httpx.get(f"{url}/").text
        puppy_page = httpx.get(f"{url}/puppies/{puppy.slug}/").text
        named = {
            path
            for page in (catalogue, puppy_page)
            for path in re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
        }
        stylesheet = re.search(r'<link rel="stylesheet" href="(/static/[^"]+)"', catalogue)
        unhashed = httpx.get(f"{url}/static/kennel/site.css")
        answers = {path: httpx.get(f"{url}{path}") for path in named}

    assert stylesheet is not None
    assert re.fullmatch(r"/static/kennel/site\.[0-9a-f]{12}\.css", stylesheet[1])
    assert {"/static/kennel/lightbox.js", "/static/kennel/site.css"}.isdisjoint(named)
    for path, answer in answers.items():
        assert re.search(r"\.[0-9a-f]{12}\.\w+$", path), path
        assert answer.status_code == 200, path
        cache_control = answer.headers["Cache-Control"]
        assert "immutable" in cache_control, (path, cache_control)
        assert _max_age(cache_control) >= YEAR, (path, cache_control)
    assert answers[stylesheet[1]].content == unhashed.content
    assert unhashed.headers["Cache-Control"] == "max-age=60, public"


@pytest.mark.django_db
def test_a_file_missing_from_the_manifest_is_named_as_it_is_not_a_500(client, settings, tmp_path):
    """Static never collected (or a file added since the last collectstatic): the page still
    answers, naming the file under its own name (served by the finders, for a minute)."""
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "kennel.core.staticfiles.HashedStaticFilesStorage"},
    }

    answer = client.get("/no-such-page/")

    assert answer.status_code == 404
    assert 'href="/static/kennel/site.css"' in answer.content.decode()
