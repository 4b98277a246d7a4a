"""`python -m kennel load_demo`: a believable shop in one command, safe to run again."""

from io import BytesIO, StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from PIL import Image

from kennel.catalogue.models import Litter, Puppy, PuppyPhoto
from kennel.reservations.models import Reservation

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _load() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {
        "litters": Litter.objects.count(),
        "puppies": Puppy.objects.count(),
        "photos": PuppyPhoto.objects.count(),
        "reservations": Reservation.objects.count(),
    }


def test_load_demo_creates_litters_puppies_photos_and_paid_reservations(media):
    summary = _load()

    assert "13 puppies added" in summary
    assert summary.count("\n") == 1  # one line
    assert Litter.objects.count() >= 3
    assert Puppy.objects.count() >= 12
    assert set(Puppy.objects.values_list("breed", flat=True)) >= {
        "Golden Retriever",
        "Border Collie",
        "Cavalier King Charles Spaniel",
    }
    for puppy in Puppy.objects.all():
        assert 1500 <= puppy.price <= 3500
        assert 0 < puppy.deposit < puppy.price
        assert 1 <= puppy.photos.count() <= 2


def test_demo_photos_are_small_jpegs_in_media_root_with_alt_text(media):
    _load()

    for photo in PuppyPhoto.objects.all():
        path = media / photo.image.name
        data = path.read_bytes()
        assert len(data) <= 30_000
        image = Image.open(BytesIO(data))
        assert image.format == "JPEG"
        assert image.size == (640, 480)
        assert photo.puppy.name in photo.alt


def test_demo_reserved_and_sold_puppies_have_the_reservation_the_payment_would_leave(media):
    _load()

    reserved = Puppy.objects.filter(status=Puppy.Status.RESERVED)
    sold = Puppy.objects.filter(status=Puppy.Status.SOLD)
    assert reserved.exists()
    assert sold.exists()
    for puppy in reserved:
        (reservation,) = puppy.reservations.all()
        assert reservation.status == Reservation.Status.CONFIRMED
        assert reservation.external_payment_id.startswith("pi_demo_")
        assert reservation.provider_reference.startswith("cs_demo_")
        assert reservation.provider == Reservation.Provider.STRIPE
        assert reservation.deposit_amount == puppy.deposit
    for puppy in sold:
        (reservation,) = puppy.reservations.all()
        assert reservation.status == Reservation.Status.COMPLETED
    assert not Reservation.objects.filter(puppy__status=Puppy.Status.AVAILABLE).exists()


def test_load_demo_twice_changes_nothing(media):
    _load()
    before = _counts()
    files_before = sorted(p.name for p in media.rglob("*.jpg"))

    summary = _load()

    assert _counts() == before
    assert sorted(p.name for p in media.rglob("*.jpg")) == files_before
    assert "0 puppies added" in summary


def test_load_demo_reuses_photo_files_left_from_an_earlier_database(media):
    _load()
    files_before = sorted(p.name for p in media.rglob("*.jpg"))
    Reservation.objects.all().delete()
    PuppyPhoto.objects.all().delete()
    Puppy.objects.all().delete()

    _load()

    assert sorted(p.name for p in media.rglob("*.jpg")) == files_before
    assert PuppyPhoto.objects.count() == len(files_before)


def test_demo_catalogue_renders(media, client):
    _load()

    response = client.get("/")

    assert response.status_code == 200
    assert len(response.context["puppies"]) == Puppy.objects.count()
