"""The family choosing now comes before the shop: while its turn is open, a shop buyer cannot
hold a puppy it could choose (the API, the reserve form, the pages say so); what it could not
choose stays on sale; when its turn ends, what is left is on sale at once. Real services on
PostgreSQL, each change committed as in production (the pages are cached per version)."""

import json
import re
import threading
from datetime import timedelta
from typing import Any, cast

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from kennel.catalogue.models import Litter, Puppy
from kennel.core.errors import Busy, PuppyNotAvailable
from kennel.core.models import AuditLog
from kennel.reservations import picking, waitlist
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import Reservation
from kennel.reservations.services import FAMILY_CHOOSING_MESSAGE, reservation_hold
from tests.factories import LitterFactory, PuppyFactory
from tests.payments.test_paypal_late_approval import _backend_waiting_for_a_lock
from tests.reservations.waitlist_helpers import on_list, open_litter

pytestmark = pytest.mark.django_db(transaction=True)

CHOOSING_TEXT = "A family on our waiting list is choosing"


def buyer(n: int) -> Buyer:
    return Buyer(name=f"Shop Buyer {n}", email=f"shop{n}@example.com", phone="+33 600000000")


def _girl_wished_by_the_family_choosing() -> tuple[Litter, Puppy, Puppy]:
    """A litter of a girl and a boy, both on sale; family 1 wants a girl, family 2 a boy;
    picking is open, family 1 choosing."""
    litter = open_litter()
    girl = cast(Puppy, PuppyFactory(litter=litter, slug="girl", name="Girl", sex="female"))
    boy = cast(Puppy, PuppyFactory(litter=litter, slug="boy", name="Boy", sex="male"))
    on_list(litter, 1, sex="female")
    on_list(litter, 2, sex="male")
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
    return litter, girl, boy


def _refused_for_the_family(slug: str, n: int = 1) -> None:
    with pytest.raises(PuppyNotAvailable) as refused:
        reservation_hold(puppy_slug=slug, buyer=buyer(n), provider="stripe")
    assert refused.value.code == "PUPPY_NOT_AVAILABLE"
    assert refused.value.message == FAMILY_CHOOSING_MESSAGE


def test_a_shop_hold_of_a_puppy_the_family_choosing_could_choose_is_refused_changing_nothing():
    _litter, girl, _boy = _girl_wished_by_the_family_choosing()
    audited = AuditLog.objects.count()

    _refused_for_the_family("girl")

    girl.refresh_from_db()
    assert girl.status == "available"
    assert not Reservation.objects.filter(puppy=girl).exists()
    assert AuditLog.objects.count() == audited


def test_what_the_family_choosing_could_not_choose_stays_on_sale():
    litter, _girl, _boy = _girl_wished_by_the_family_choosing()
    kept = PuppyFactory(litter=litter, slug="kept-girl", sex="female", kept=True)
    elsewhere = PuppyFactory(litter=LitterFactory(), slug="other-girl", sex="female")

    for n, puppy in enumerate(("boy", kept.slug, elsewhere.slug)):
        held = reservation_hold(puppy_slug=puppy, buyer=buyer(n), provider="stripe")
        assert held.status == "pending"


def test_when_the_turn_ends_the_shop_may_hold_what_is_left_at_once():
    litter, _girl, _boy = _girl_wished_by_the_family_choosing()
    first = waitlist.WaitlistEntry.objects.get(litter=litter, position=1)
    second = waitlist.WaitlistEntry.objects.get(litter=litter, position=2)
    _refused_for_the_family("girl")

    picking.waitlist_pass(token=first.token)  # family 2 (a boy) chooses now
    assert reservation_hold(puppy_slug="girl", buyer=buyer(1), provider="stripe")
    _refused_for_the_family("boy", n=2)

    picking.picking_close(litter_id=litter.pk, actor="admin:breeder")
    second.refresh_from_db()
    assert second.status == "waiting"
    assert reservation_hold(puppy_slug="boy", buyer=buyer(2), provider="stripe")


def test_a_hold_running_when_the_turn_opened_stands_and_when_it_runs_out_the_puppy_is_the_familys():
    litter = open_litter()
    PuppyFactory(litter=litter, slug="girl", name="Girl", sex="female")
    first = on_list(litter, 1, sex="female")
    shop = reservation_hold(puppy_slug="girl", buyer=buyer(1), provider="stripe")
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
    assert [h.puppy.slug for h in waitlist.entry_standing(token=first.token).held] == ["girl"]
    assert Reservation.objects.get(pk=shop.pk).status == "pending"  # left alone

    Reservation.objects.filter(pk=shop.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    _refused_for_the_family("girl", n=2)

    assert Reservation.objects.get(pk=shop.pk).status == "pending"  # the refusal wrote nothing
    picked = picking.waitlist_pick(token=first.token, puppy_slug="girl")
    assert (picked.status, picked.puppy.slug) == ("confirmed", "girl")


def _api_reserve(slug: str) -> tuple[int, Any]:
    """POST /api/reservations/ for `slug`: the status code and the JSON answer."""
    payload = {
        "puppy": slug,
        "name": "Jane Doe",
        "email": "jane@example.com",
        "phone": "+33 6 12 34 56 78",
        "provider": "stripe",
        "accept_terms": True,
    }
    answer = Client().post(
        "/api/reservations/", data=json.dumps(payload), content_type="application/json"
    )
    return answer.status_code, answer.json()


def test_the_api_refuses_with_409_and_says_a_family_is_choosing():
    _girl_wished_by_the_family_choosing()

    status, answer = _api_reserve("girl")

    assert status == 409
    assert answer == {"error": {"code": "PUPPY_NOT_AVAILABLE", "message": FAMILY_CHOOSING_MESSAGE}}
    assert not Reservation.objects.filter(puppy__slug="girl").exists()


def test_the_reserve_form_lands_on_the_page_saying_a_family_is_choosing():
    _girl_wished_by_the_family_choosing()
    form = {
        "name": "Jane Doe",
        "email": "jane@example.com",
        "phone": "+33 6 12 34 56 78",
        "provider": "stripe",
        "accept_terms": "on",
    }

    answer = Client().post("/puppies/girl/reserve/", data=form, follow=True)

    assert answer.status_code == 200
    assert CHOOSING_TEXT in answer.content.decode()
    assert "data-reserve-submit" not in answer.content.decode()
    assert not Reservation.objects.filter(puppy__slug="girl").exists()


def _badge(html: str, name: str) -> str:
    """The badge class of `name`'s card in the catalogue."""
    for card in re.findall(r'<li class="card.*?</li>', html, flags=re.DOTALL):
        if f">{name}</a>" in card:
            found = re.search(r'badge--(\w+)"', card)
            assert found
            return found.group(1)
    raise AssertionError(f"no card for {name}")


def test_the_pages_say_a_family_is_choosing_from_the_moment_the_turn_opens_until_it_ends():
    litter = open_litter()
    PuppyFactory(litter=litter, slug="girl", name="Girl", sex="female")
    PuppyFactory(litter=litter, slug="boy", name="Boy", sex="male")
    first = on_list(litter, 1, sex="female")
    browser = Client()
    # Rendered and cached before the turn opens: on sale.
    assert "data-reserve-submit" in browser.get("/puppies/girl/").content.decode()
    assert _badge(browser.get("/").content.decode(), "Girl") == "available"

    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    page = browser.get("/puppies/girl/").content.decode()
    assert CHOOSING_TEXT in page
    assert "data-reserve-submit" not in page
    assert 'href="#reserve"' not in page  # nor the phone's buy bar
    assert "data-reserve-submit" in browser.get("/puppies/boy/").content.decode()
    catalogue = browser.get("/").content.decode()
    assert _badge(catalogue, "Girl") == "choosing"
    assert _badge(catalogue, "Boy") == "available"

    picking.waitlist_pass(token=first.token)  # nobody else: picking closes

    assert "data-reserve-submit" in browser.get("/puppies/girl/").content.decode()
    assert _badge(browser.get("/").content.decode(), "Girl") == "available"


def test_a_payment_arriving_after_the_hold_ran_out_during_the_turn_leaves_the_puppy_to_the_family():
    """A shop hold running when the turn opened ran out (and was expired); its buyer pays
    late. The puppy is the family's now: the payment is refunded, and the family picks it."""
    from kennel.payments.fulfilment import payment_apply
    from kennel.payments.models import Refund
    from kennel.reservations.services import reservation_place_gone, reservations_expire_due
    from tests.payments.test_fulfilment import paid

    litter = open_litter()
    PuppyFactory(litter=litter, slug="girl", name="Girl", sex="female")
    first = on_list(litter, 1, sex="female")
    shop = reservation_hold(puppy_slug="girl", buyer=buyer(1), provider="stripe")
    Reservation.objects.filter(pk=shop.pk).update(provider_reference="cs_late")
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
    Reservation.objects.filter(pk=shop.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert reservations_expire_due() == 1
    shop.refresh_from_db()
    assert reservation_place_gone(shop)  # an approval now is not captured (PayPal)

    payment_apply(snapshot=paid(shop, reference="cs_late", payment_id="pi_late"), actor="test")

    shop.refresh_from_db()
    assert (shop.status, shop.status_reason) == ("expired", "late_payment_refunded")
    assert Refund.objects.get(external_payment_id="pi_late").reason == "late_payment"
    assert Puppy.objects.get(slug="girl").status == "available"
    picked = picking.waitlist_pick(token=first.token, puppy_slug="girl")
    assert (picked.status, picked.puppy.slug) == ("confirmed", "girl")


def test_the_api_says_which_available_puppies_the_family_choosing_could_choose():
    _girl_wished_by_the_family_choosing()

    listed = {p["slug"]: p for p in Client().get("/api/puppies/").json()}

    assert (listed["girl"]["status"], listed["girl"]["family_choosing"]) == ("available", True)
    assert (listed["boy"]["status"], listed["boy"]["family_choosing"]) == ("available", False)


def test_available_now_leaves_out_what_the_family_choosing_could_choose_until_its_turn_ends():
    litter, _girl, _boy = _girl_wished_by_the_family_choosing()
    browser = Client()

    page = browser.get("/?status=available").content.decode()
    assert ">Boy</a>" in page
    assert ">Girl</a>" not in page

    picking.picking_close(litter_id=litter.pk, actor="admin:breeder")

    assert ">Girl</a>" in browser.get("/?status=available").content.decode()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_buyer_who_read_the_puppy_free_just_before_the_turn_opened_is_told_a_family_is_choosing():
    """The buyer's early read finds the girl free; the breeder's opening of picking holds the
    litter's row, so the hold waits for it, then loses at its UPDATE: told why, not 'taken'."""
    litter = open_litter()
    PuppyFactory(litter=litter, slug="girl", name="Girl", sex="female")
    on_list(litter, 1, sex="female")
    answers: list[tuple[int, Any]] = []

    def reserve() -> None:
        try:
            answers.append(_api_reserve("girl"))
        finally:
            connection.close()

    buyer_thread = threading.Thread(target=reserve)
    with transaction.atomic():
        Litter.objects.select_for_update().get(pk=litter.pk)  # picking being opened
        buyer_thread.start()
        _backend_waiting_for_a_lock()  # past its early read, waiting for the litter
        picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
    buyer_thread.join(timeout=30)

    [(status, answer)] = answers
    assert status == 409
    assert answer["error"] == {
        "code": "PUPPY_NOT_AVAILABLE",
        "message": FAMILY_CHOOSING_MESSAGE,
    }
    assert not Reservation.objects.filter(puppy__slug="girl").exists()


def test_a_puppy_on_hold_during_the_turn_is_said_to_go_to_the_family_first_if_unpaid():
    """A shop hold was running when the turn opened: its puppy's page, and the page a second
    buyer's Reserve lands on, no longer promise it 'here again' if that payment fails."""
    litter = open_litter()
    PuppyFactory(litter=litter, slug="girl", name="Girl", sex="female")
    on_list(litter, 1, sex="female")
    reservation_hold(puppy_slug="girl", buyer=buyer(1), provider="stripe")
    browser = Client()
    assert "will be offered here again" in browser.get("/puppies/girl/").content.decode()

    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    first_to_family = "Girl is offered first to the family choosing its puppy"
    for page in (
        browser.get("/puppies/girl/"),
        browser.post("/puppies/girl/reserve/", data={"name": "Jane Doe"}, follow=True),
    ):
        text = page.content.decode()
        assert first_to_family in text
        assert "will be offered here again" not in text


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_hold_the_sweep_ends_as_its_payment_lands_while_a_turn_opens_is_the_familys():
    """The payment reads its hold still pending and waits for the sweep expiring it; the
    breeder opens picking meanwhile (the family waits for that hold). Once the sweep commits,
    the payment is a late one and must wait for the turn, as a hold does: the girl is the
    family's, the payment refunded — never confirmed under a turn it did not see."""
    from kennel.payments.fulfilment import payment_apply
    from kennel.payments.models import Refund
    from kennel.reservations.services import reservations_expire_due
    from tests.payments.test_fulfilment import paid

    litter = open_litter()
    PuppyFactory(litter=litter, slug="girl", name="Girl", sex="female")
    first = on_list(litter, 1, sex="female")
    shop = reservation_hold(puppy_slug="girl", buyer=buyer(1), provider="stripe")
    Reservation.objects.filter(pk=shop.pk).update(provider_reference="cs_late")
    snapshot = paid(shop, reference="cs_late", payment_id="pi_late")
    turn_opened, commit_turn = threading.Event(), threading.Event()
    first_try: list[BaseException] = []

    def pay() -> None:
        try:
            payment_apply(snapshot=snapshot, actor="stripe:evt_late")
        except Busy as exc:
            first_try.append(exc)
        finally:
            connection.close()

    def open_turn() -> None:
        try:
            with transaction.atomic():
                picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
                turn_opened.set()
                commit_turn.wait(timeout=30)
        finally:
            connection.close()

    payment, turn = threading.Thread(target=pay), threading.Thread(target=open_turn)
    with transaction.atomic():  # the sweep, at the hold's end
        assert reservations_expire_due(now=shop.expires_at) == 1
        payment.start()
        _backend_waiting_for_a_lock()  # it read the hold pending and waits for the sweep
        turn.start()
        assert turn_opened.wait(timeout=30)
    # The payment goes on as the sweep commits, and ends (it never waits for the turn's commit:
    # that could be a deadlock), while the turn is still being opened.
    payment.join(timeout=30)
    commit_turn.set()
    turn.join(timeout=30)
    # It could not see the turn being opened, nor wait for it holding the hold's lock: it was
    # told to come back (503, as a provider's delivery or the worker's job retries).
    assert len(first_try) == 1, "the payment went on without the litter's lock"
    shop.refresh_from_db()
    assert (shop.status, shop.status_reason) == ("expired", "hold_expired")
    payment_apply(snapshot=snapshot, actor="stripe:evt_late")  # the retry, the turn now open

    shop.refresh_from_db()
    first.refresh_from_db()
    assert first.status == "choosing"
    assert (shop.status, shop.status_reason) == ("expired", "late_payment_refunded")
    assert Refund.objects.get(external_payment_id="pi_late").reason == "late_payment"
    picked = picking.waitlist_pick(token=first.token, puppy_slug="girl")
    assert (picked.status, picked.puppy.slug) == ("confirmed", "girl")
