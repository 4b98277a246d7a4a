"""Photo files at /media/ as a browser, a CDN and a scanner meet them. Tried: every answer
came without Cache-Control, so each photo was asked for again on every page; each probe like
`GET /media/../settings.py` wrote a SuspiciousFileOperation traceback to the log."""

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from django.utils.http import http_date

from kennel.catalogue.models import PuppyPhoto
from tests.catalogue.test_photos import change_puppy, phone_photo, upload
from tests.factories import PuppyFactory

pytestmark = pytest.mark.django_db

A_YEAR = "public, max-age=31536000, immutable"


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_a_photo_is_served_for_browsers_and_cdns_to_keep_a_year(admin_client, client, media_root):
    puppy = PuppyFactory()
    change_puppy(admin_client, puppy, [{"alt": "Bella", "file": upload("1.jpg", phone_photo())}])
    photo = PuppyPhoto.objects.get(puppy=puppy)
    url = photo.image.url

    first = client.get(url)
    body = b"".join(first.streaming_content)  # read through: the file is closed at the end
    again = client.get(url, headers={"if-modified-since": http_date(time.time() + 60)})

    assert first.status_code == 200
    assert first["Cache-Control"] == A_YEAR
    assert first["Content-Type"] == "image/jpeg"
    assert body.startswith(b"\xff\xd8")  # a JPEG
    assert again.status_code == 304
    assert again["Cache-Control"] == A_YEAR
    # The promise behind the year: a new upload of the same photo gets other addresses.
    rows = [{"id": photo.pk, "alt": "Bella", "file": upload("1.jpg", phone_photo())}]
    change_puppy(admin_client, puppy, rows)
    photo.refresh_from_db()
    assert photo.image.url != url


def test_a_missing_photo_is_a_404_nobody_caches_for_a_year(client, media_root):
    missing = client.get("/media/puppies/1/0badc0de/1600.jpg")

    assert missing.status_code == 404
    assert missing.get("Cache-Control") != A_YEAR


@pytest.mark.parametrize(
    "probe",
    [
        "/media/../settings.py",
        "/media/%2e%2e/x",
        "/media/puppies/../../../etc/passwd",
        "/media/..%2f..%2fkennel.sqlite3",
        "/media/..",
        "/media/%00",
    ],
)
def test_a_path_climbing_out_of_the_media_folder_is_a_quiet_404(client, media_root, caplog, probe):
    (media_root.parent / "settings.py").write_text("SECRET_KEY = 'not for you'\n")
    caplog.set_level(logging.DEBUG)

    answer = client.get(probe)

    assert answer.status_code == 404
    assert b"not for you" not in answer.content
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    assert not [r for r in caplog.records if r.name.startswith("django.security")]
