"""The breeder takes a puppy off sale and puts it back from the back office — through the
reservation services, after a confirmation page, never by editing its status."""

import pytest

from kennel.catalogue.models import Puppy
from kennel.core.models import AuditLog
from kennel.reservations.buyers import Buyer
from kennel.reservations.services import reservation_hold, reservation_mark_picked_up
from tests.factories import PuppyFactory
from tests.notifications.helpers import confirm

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/catalogue/puppy/"


def act(admin_client, action: str, *puppies: Puppy, confirm: bool = True):
    data = {"action": action, "_selected_action": [p.pk for p in puppies]}
    if confirm:
        data["post"] = "yes"
    return admin_client.post(CHANGELIST, data, follow=True)


def test_the_list_shows_prices_with_their_currency(admin_client):
    PuppyFactory(name="Biscuit", price="2500.00", deposit="500.00", currency="GBP")

    page = admin_client.get(CHANGELIST).content.decode()

    assert "2,500.00 GBP" in page
    assert "500.00 GBP" in page


def test_taking_a_puppy_off_sale_asks_first_then_hides_it_from_the_shop(admin_client, client):
    puppy = PuppyFactory(name="Biscuit")

    asked = act(admin_client, "take_off_sale", puppy, confirm=False)
    assert "disappears from the shop" in asked.content.decode()
    assert Puppy.objects.get(pk=puppy.pk).is_published

    done = act(admin_client, "take_off_sale", puppy)

    assert "1 puppy now off sale." in done.content.decode()
    assert client.get(f"/puppies/{puppy.slug}/").status_code == 404
    line = AuditLog.objects.get(action="catalogue.puppy.off_sale")
    assert line.actor == "staff:admin"

    act(admin_client, "put_on_sale", puppy)
    assert client.get(f"/puppies/{puppy.slug}/").status_code == 200


def test_a_held_puppy_stays_with_its_family_when_put_on_sale(admin_client):
    puppy = PuppyFactory()
    reservation_hold(
        puppy_slug=puppy.slug,
        buyer=Buyer(name="Jane", email="jane@example.com", phone="+33 6 12 34 56 78"),
        provider="stripe",
    )

    act(admin_client, "put_on_sale", puppy)

    assert Puppy.objects.get(pk=puppy.pk).status == "held"


def test_a_puppy_that_went_home_stays_sold_when_put_on_sale(admin_client, client):
    # Tried: "Put on sale (again)" on Teddy, picked up by his family, made him available and a
    # second family paid a deposit for him.
    teddy = PuppyFactory(name="Teddy")
    held = reservation_hold(
        puppy_slug=teddy.slug,
        buyer=Buyer(name="Tom", email="tom@example.com", phone="+33 6 12 34 56 78"),
        provider="stripe",
    )
    confirm(held)
    reservation_mark_picked_up(reservation_id=held.pk, actor="staff:admin")
    biscuit = PuppyFactory(name="Biscuit", is_published=False)

    asked = act(admin_client, "put_on_sale", teddy, biscuit, confirm=False).content.decode()
    assert "went home with its family" in asked

    done = act(admin_client, "put_on_sale", teddy, biscuit).content.decode()

    assert "1 puppy now on sale." in done
    assert "Teddy: it went home with its family" in done
    assert Puppy.objects.get(pk=teddy.pk).status == "sold"
    assert Puppy.objects.get(pk=biscuit.pk).is_published
    answer = client.post(
        "/api/reservations/",
        {
            "puppy": teddy.slug,
            "name": "Ann",
            "email": "ann@example.com",
            "phone": "+33 6 12 34 56 79",
            "provider": "stripe",
            "accept_terms": True,
        },
        content_type="application/json",
    )
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "PUPPY_NOT_AVAILABLE"
