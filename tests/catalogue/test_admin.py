"""The back office: puppies are edited there, never a status; reservations are read-only."""

import pytest
from django.urls import reverse

from kennel.catalogue.models import Litter, Puppy
from kennel.core.models import AuditLog, audit
from kennel.reservations.models import Reservation
from tests.factories import LitterFactory, PuppyFactory, ReservationFactory

pytestmark = pytest.mark.django_db


def test_puppy_and_litter_admin_pages_load(admin_client):
    puppy = PuppyFactory()

    for url in [
        reverse("admin:catalogue_puppy_changelist"),
        reverse("admin:catalogue_puppy_changelist") + "?status__exact=available&sex__exact=female",
        reverse("admin:catalogue_puppy_changelist") + "?q=Puppy",
        reverse("admin:catalogue_puppy_change", args=[puppy.pk]),
        reverse("admin:catalogue_puppy_add"),
        reverse("admin:catalogue_litter_changelist"),
        reverse("admin:catalogue_litter_change", args=[puppy.litter.pk]),
    ]:
        assert admin_client.get(url).status_code == 200, url


def test_puppy_status_is_read_only_in_the_admin(admin_client):
    puppy = PuppyFactory()

    html = admin_client.get(
        reverse("admin:catalogue_puppy_change", args=[puppy.pk])
    ).content.decode()

    assert 'name="name"' in html
    assert 'name="status"' not in html


def test_breeder_adds_a_puppy_in_the_admin_and_the_deposit_defaults_to_the_share(
    admin_client, settings
):
    settings.DEPOSIT_SHARE = 0.2
    litter = LitterFactory()

    response = admin_client.post(
        reverse("admin:catalogue_puppy_add"),
        {
            "name": "Juniper",
            "slug": "juniper",
            "litter": litter.pk,
            "breed": "Golden Retriever",
            "sex": "female",
            "colour": "Golden",
            "born_on": "2026-01-05",
            "price": "2000.00",
            "deposit": "",
            "currency": "EUR",
            "is_published": "on",
            "description": "",
            "status": "sold",  # ignored: read-only
            "photos-TOTAL_FORMS": "0",
            "photos-INITIAL_FORMS": "0",
            "photos-MIN_NUM_FORMS": "0",
            "photos-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    puppy = Puppy.objects.get(slug="juniper")
    assert str(puppy.deposit) == "400.00"
    assert puppy.status == Puppy.Status.AVAILABLE


def test_reservation_admin_lists_reservations_and_shows_them_read_only(admin_client):
    reservation = ReservationFactory(buyer_name="Jane Doe", status=Reservation.Status.CONFIRMED)

    changelist = admin_client.get(reverse("admin:reservations_reservation_changelist"))
    assert changelist.status_code == 200
    assert "Jane Doe" in changelist.content.decode()

    page = admin_client.get(reverse("admin:reservations_reservation_change", args=[reservation.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Jane Doe" in html
    for field in ["status", "buyer_name", "deposit_amount", "provider"]:
        assert f'name="{field}"' not in html
    assert 'name="_save"' not in html


def test_reservation_status_cannot_be_changed_added_or_deleted_through_the_admin(admin_client):
    reservation = ReservationFactory()
    change_url = reverse("admin:reservations_reservation_change", args=[reservation.pk])

    response = admin_client.post(change_url, {"status": "confirmed", "buyer_name": "Mallory"})
    assert response.status_code == 403
    assert admin_client.get(reverse("admin:reservations_reservation_add")).status_code == 403
    delete_url = reverse("admin:reservations_reservation_delete", args=[reservation.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403

    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.PENDING
    assert reservation.buyer_name == "Jane Doe"


def test_audit_log_is_visible_and_read_only_in_the_admin(admin_client):
    entry = audit("reservations.reservation.held", actor="buyer", obj=LitterFactory())

    assert admin_client.get(reverse("admin:core_auditlog_changelist")).status_code == 200
    assert (
        admin_client.get(reverse("admin:core_auditlog_change", args=[entry.pk])).status_code == 200
    )
    assert admin_client.get(reverse("admin:core_auditlog_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:core_auditlog_change", args=[entry.pk]), {"action": "forged"}
    )
    assert response.status_code == 403
    assert AuditLog.objects.get(pk=entry.pk).action == "reservations.reservation.held"
    assert Litter.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["refund", "webhookevent", "webhookrejection"])
def test_payments_are_listed_read_only_in_the_admin(admin_client, model):
    changelist = admin_client.get(f"/admin/payments/{model}/")
    assert changelist.status_code == 200
    assert admin_client.get(f"/admin/payments/{model}/add/").status_code == 403


def test_a_new_puppy_and_litter_start_in_the_shops_default_currency(admin_client, settings):
    """Tried: DEFAULT_CURRENCY=GBP, documented, changed nothing: new puppies started in EUR."""
    settings.DEFAULT_CURRENCY = "GBP"

    for model in ("puppy", "litter"):
        page = admin_client.get(reverse(f"admin:catalogue_{model}_add")).content.decode()
        assert 'name="currency" value="GBP"' in page, model
