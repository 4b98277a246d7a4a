"""The back office on a French browser: what it refuses, and why, reads in French, as Django's
own admin texts do. Tried: a price above what one payment can take, an amount to keep that is
no number, a file that is no photo and an erasure refused were all explained in English on an
otherwise French page."""

import csv
import io
import json
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from kennel.catalogue.models import Litter
from kennel.core.errors import ValidationFailed, message_translated
from kennel.core.models import SideEffect
from kennel.monitoring.reconciliation import reconciliation_record
from kennel.payments.models import Refund, WebhookEvent
from kennel.payments.reconcile import Books, Reconciliation, Unreachable, payments_reconcile
from kennel.reservations import waitlist
from kennel.reservations.effects import Effect
from kennel.reservations.models import PickTurn, Reservation
from tests.catalogue.test_litter_admin import FAMILIES, LITTERS, act, entry, litter_with_families
from tests.catalogue.test_photos import change_puppy, media, upload  # noqa: F401 (media: fixture)
from tests.factories import LitterFactory, PuppyFactory, ReservationFactory
from tests.notifications.helpers import confirm as confirmed
from tests.notifications.helpers import hold
from tests.reservations.test_admin_actions import action, confirm
from tests.reservations.waitlist_helpers import open_litter

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"
APOS = "\u2019"


@pytest.fixture
def french_admin(admin_client: Client) -> Client:
    """The breeder's back office, from a browser that asks for French."""
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "fr"
    return admin_client


def _paid() -> Reservation:
    return confirmed(hold(PuppyFactory(price=Decimal("2000.00"), deposit=Decimal("400.00"))))


def test_a_price_above_the_largest_payment_is_refused_in_french(french_admin):
    puppy = PuppyFactory(price=Decimal("2000.00"), deposit=Decimal("400.00"))

    answer = change_puppy(french_admin, puppy, [], price="1500000", deposit="1200000")

    html = answer.content.decode()
    assert answer.status_code == 200  # the form again
    assert (
        "Le prix ne peut pas dépasser 999999.99 EUR, le plus gros paiement que Stripe accepte "
        "(PayPal en accepte autant)."
    ) in html
    assert "must be at most" not in html
    puppy.refresh_from_db()
    assert puppy.price == Decimal("2000.00")


def test_an_amount_to_keep_that_is_no_number_is_refused_in_french(french_admin):
    reservation = _paid()
    _page, data = action(french_admin, "refund_deposit", reservation)

    html = confirm(french_admin, {**data, "refund_form": "1", "amount_to_keep": "abc"})

    assert f"Rien n{APOS}a été remboursé{NBSP}:" in html
    assert "Le montant à conserver doit être un nombre, comme 0 ou 50,00." in html
    assert "Nothing was refunded" not in html
    assert "must be a number" not in html
    assert Reservation.objects.get(pk=reservation.pk).status == "confirmed"


def test_erasing_the_buyer_of_an_open_reservation_is_refused_in_french(french_admin):
    reservation = _paid()
    _page, data = action(french_admin, "erase_buyer", reservation)

    html = confirm(french_admin, data)

    assert (
        f"Cette réservation est toujours ouverte{NBSP}: libérez la réservation ou remboursez "
        f"l{APOS}acompte avant d{APOS}effacer les coordonnées de l{APOS}acheteur."
    ) in html
    assert "still open" not in html
    assert Reservation.objects.get(pk=reservation.pk).erased_at is None


@pytest.mark.usefixtures("media")
def test_a_file_that_is_no_photo_is_refused_in_french(french_admin):
    puppy = PuppyFactory()
    notes = upload("notes.jpg", b"my puppy notes\n" * 100)

    answer = change_puppy(french_admin, puppy, [{"alt": "Oups", "file": notes}])

    html = answer.content.decode()
    assert answer.status_code == 200
    assert (
        f"Ce fichier n{APOS}est pas une photo lisible. Envoyez une image JPEG, PNG ou WebP."
    ) in html
    assert "not a photo we can read" not in html
    assert not puppy.photos.exists()


def _page(client: Client, url: str) -> str:
    answer = client.get(url)
    assert answer.status_code == 200
    return answer.content.decode()


def test_the_states_the_breeder_reads_in_the_back_office_are_in_french(french_admin):
    """Tried: on a French back office, why a hold ended ("The hold ran out before payment"),
    a refund's state ("Succeeded"), background work's kind and state ("Owner: deposit
    received", "Dead (gave up; retry from the admin)") and a litter's picking ("Families are
    choosing") were the model's English labels."""
    ended = ReservationFactory(
        status=Reservation.Status.EXPIRED, status_reason=Reservation.Reason.HOLD_EXPIRED
    )
    Refund.objects.create(
        reservation=_paid(),
        provider="stripe",
        external_payment_id="pi_fr",
        amount=Decimal("400.00"),
        currency="EUR",
        reason=Refund.Reason.OWNER,
        status=Refund.Status.SUCCEEDED,
        idempotency_key="refund:fr",
    )
    SideEffect.objects.create(
        kind=Effect.OWNER_DEPOSIT,
        recipient="owner@kennel.example",
        dedup_key="fr:dead",
        status=SideEffect.Status.DEAD,
        next_attempt_at=timezone.now(),
    )
    LitterFactory(name="Portée de printemps", picking=Litter.Picking.OPEN)

    reservation = _page(
        french_admin, reverse("admin:reservations_reservation_change", args=[ended.pk])
    )
    assert "Le délai de réservation a expiré avant le paiement" in reservation
    assert "The hold ran out before payment" not in reservation

    refunds = _page(french_admin, reverse("admin:payments_refund_changelist"))
    assert "Effectué" in refunds
    assert "Succeeded" not in refunds

    work = _page(french_admin, reverse("admin:core_sideeffect_changelist"))
    assert f"Propriétaire{NBSP}: acompte reçu" in work
    assert f"Abandonnée (à relancer depuis l{APOS}espace de gestion)" in work
    assert "Owner: deposit received" not in work
    assert "Dead (gave up" not in work

    litters = _page(french_admin, reverse("admin:catalogue_litter_changelist"))
    assert "Les familles choisissent" in litters
    assert "Families are choosing" not in litters


def test_the_waiting_list_actions_refusals_are_in_french(french_admin):
    """Tried on a French back office: skipping when nobody chooses, closing picking that is
    not open, moving a family to the place it has, and carrying over a family that cannot
    be were each refused in English."""
    litter = litter_with_families(2)
    later = open_litter(name="Genièvre", slug="genievre")

    skipped = act(french_admin, LITTERS, "skip_turn", litter).content.decode()
    assert f"Maple and Hunter{NBSP}: personne ne choisit en ce moment, rien n{APOS}a changé." in (
        skipped
    )
    assert "nobody is choosing now" not in skipped

    closed = act(french_admin, LITTERS, "close_picking", litter).content.decode()
    assert f"le choix n{APOS}est pas ouvert{NBSP}: rien n{APOS}a changé." in closed
    assert "picking is not open" not in closed

    kept = act(french_admin, FAMILIES, "move_family", entry(1), position="1").content.decode()
    assert f"Family 1 est déjà en position 1{NBSP}: rien n{APOS}a changé." in kept
    assert "is already at position" not in kept

    act(french_admin, FAMILIES, "transfer_family", entry(2), litter=str(later.pk))
    refused = act(french_admin, FAMILIES, "transfer_family", entry(2), litter=str(later.pk))
    html = refused.content.decode()
    assert f"Family 2 ne peut pas être reportée sur la portée Genièvre{NBSP}:" in html
    assert "cannot be carried over" not in html


def test_a_stage_the_service_does_not_know_is_refused_in_french():
    with pytest.raises(ValidationFailed) as refused:
        waitlist.litter_stage_set(
            litter_id=LitterFactory().pk, stage="weaned", born_on=None, actor="staff:admin"
        )
    [message] = refused.value.extra["fields"]["stage"]
    with translation.override("fr"):
        assert message_translated(message) == "Étape inconnue."


# --- what a French breeder reads on the pages themselves -----------------------------------

# Django's French months as dates are written in the back office ("j N": "8 déc.").
FR_MONTHS = [
    "jan.",
    "fév.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
]


class _Headers(HTMLParser):
    """The column headers of an admin list (their text, without the sorting links' numbers)."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "th" and ("scope", "col") in attrs:
            self._depth = 1
            self.headers.append("")
        elif self._depth and tag == "span" and ("class", "sortpriority") in attrs:
            self._depth = 2  # the sort's number: not the header's text

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._depth = 0
        elif tag == "span" and self._depth == 2:
            self._depth = 1

    def handle_data(self, data: str) -> None:
        if self._depth == 1:
            self.headers[-1] += data.strip()


def _headers(html: str) -> list[str]:
    parser = _Headers()
    parser.feed(html)
    return [h for h in parser.headers if h]


def test_the_families_list_speaks_french_headers_wishes_and_actions(french_admin):
    """Tried: the list of families on a French back office read "Family", "Wishes",
    "Deposit", "Turn", "any sex" and "Move the family to another position"."""
    litter_with_families(2)

    html = _page(french_admin, FAMILIES)

    headers = _headers(html)
    for french in ("Portée", "Position", "Famille", "Téléphone", "Souhaits", "Acompte", "Tour"):
        assert french in headers
    for english in ("Litter", "Family", "Phone", "Wishes", "Deposit", "Turn", "Joined at"):
        assert english not in headers
    assert "sexe indifférent" in html
    assert "any sex" not in html
    assert "Déplacer la famille à une autre place" in html
    assert "Move the family to another position" not in html
    assert "Reporter la famille sur une portée suivante" in html


def test_a_reservation_page_speaks_french(french_admin):
    """Tried: a reservation's page on a French back office was English from its title
    ("Rosie for Jane Doe") to its buttons ("Cancel and refund") and amounts ("Deposit paid")."""
    reservation = _paid()

    html = _page(
        french_admin, reverse("admin:reservations_reservation_change", args=[reservation.pk])
    )

    for french in (
        f"{reservation.what} pour Jane Doe",
        "Acheteur",
        "Acompte versé",
        "Solde à régler au départ du chiot",
        "Annuler et rembourser",
        "Notes internes",
        "Enregistrer les notes",
        "Payé par",
        "Aucun remboursement.",
    ):
        assert french in html, french
    for english in (
        f"{reservation.what} for Jane Doe",
        "Deposit paid",
        "Balance due at pickup",
        "Cancel and refund",
        "Internal notes",
        "Timeline",
        "No refunds.",
    ):
        assert english not in html, english


def test_a_picking_actions_confirmation_page_speaks_french(french_admin):
    """Tried: "Open picking" asked "What happens when you confirm" and offered "Yes, open
    picking" or "No, take me back" on a French back office."""
    litter = litter_with_families(2)

    html = act(french_admin, LITTERS, "open_picking", litter, confirm=False).content.decode()

    assert "Ce qui se passe quand vous confirmez" in html
    assert f"La liste d{APOS}attente n{APOS}accepte plus de nouvelles familles." in html
    assert "Oui, ouvrir le choix" in html
    assert "Non, revenir en arrière" in html
    for english in (
        "What happens when you confirm",
        "The waiting list closes to new families.",
        "Yes, open picking",
        "No, take me back",
        "This litter",
    ):
        assert english not in html, english


def test_opening_picking_says_who_chooses_until_when_in_french(french_admin):
    """Tried: the outcome read "picking open — Family 1 (#1) until 08 Dec 2026, 14:30", an
    English month in a French sentence."""
    litter = litter_with_families(2)

    html = act(french_admin, LITTERS, "open_picking", litter).content.decode()

    ends = timezone.localtime(PickTurn.objects.get(litter=litter).ends_at)
    day = f"{ends.day} {FR_MONTHS[ends.month - 1]} {ends.year}, {ends:%H:%M}"
    assert f"Maple and Hunter{NBSP}: choix ouvert — Family 1 (n°{NBSP}1) jusqu{APOS}au {day}" in (
        html
    )
    assert "picking open" not in html
    assert ends.strftime("%d %b") not in html


def test_the_home_page_quotes_an_unbalanced_reconciliation_in_french(french_admin):
    """Tried: "EUR not balanced: money in 400.00 != held 300.00 + …" on a French home page."""
    books = Reconciliation()
    books.books["EUR"] = Books(money_in=Decimal("400.00"), held=Decimal("300.00"))
    reconciliation_record(books, source="worker", started_at=timezone.now())

    html = _page(french_admin, reverse("admin:index"))

    assert (
        f"EUR non équilibré{NBSP}: encaissé 400.00 ≠ acomptes conservés 300.00 + remboursé "
        "0 + en cours de remboursement 0"
    ) in html
    assert "not balanced" not in html


def test_a_refunds_confirmation_page_says_what_happens_in_french(french_admin):
    """Tried: the refund's confirmation page said "Refunded to the buyer: …", "Told by email:
    the buyer …" and "… is available again on the shop." in English on a French page."""
    reservation = _paid()

    page, _data = action(french_admin, "refund_deposit", reservation)

    for french in (
        f"Remboursé à l{APOS}acheteur{NBSP}: 400,00{NBSP}€",
        f"Prévenus par e-mail{NBSP}: l{APOS}acheteur (jane.doe@example.com)",
        f"{reservation.what} est de nouveau disponible sur la boutique.",
    ):
        assert french in page, french
    for english in ("Refunded to the buyer", "Told by email", "available again on the shop"):
        assert english not in page, english


def test_the_home_page_says_what_needs_the_breeder_in_french(french_admin):
    """Tried: the back office's home read "Needs attention", "Holds running now", "1 hold
    waiting for payment" and "No confirmed deposits yet." on a French back office."""
    held = hold(PuppyFactory(price=Decimal("2000.00"), deposit=Decimal("400.00")))

    html = _page(french_admin, reverse("admin:index"))

    for french in (
        "Réservations en cours",
        "1</strong> réservation en attente de paiement",
        f"Aucun acompte confirmé pour l{APOS}instant.",
        "Familles qui choisissent",
        f"Aujourd{APOS}hui chez",
        "Réservations et paiements",
        held.puppy.name,
    ):
        assert french in html, french
    for english in (
        "Holds running now",
        "waiting for payment",
        "No confirmed deposits yet",
        "Today at",
        "Reservations &amp; payments",
    ):
        assert english not in html, english


def test_the_reconciliations_own_findings_are_in_french_on_the_home_page(french_admin):
    """Tried: on a French home page the reconciliation said "… refunded 200.00 EUR too much",
    "the shop is busy…" and "the reconciliation stopped: …" in English. The provider's own
    error text is quoted as the provider wrote it."""
    reservation = _paid()
    for n in (1, 2):
        Refund.objects.create(
            reservation=reservation,
            provider="stripe",
            external_payment_id=str(reservation.external_payment_id),
            amount=Decimal("300.00"),
            currency="EUR",
            reason=Refund.Reason.OWNER,
            status=Refund.Status.SUCCEEDED,
            idempotency_key=f"refund:twice:{n}",
        )
    result = payments_reconcile()
    result.unreachable.append(Unreachable(reservation="r-locked", busy=True))
    result.unreachable.append(Unreachable(reservation="r-stripe", error="No such session"))
    result.stopped = "ValueError"
    reconciliation_record(result, source="worker", started_at=timezone.now())

    html = _page(french_admin, reverse("admin:index"))

    assert (
        f"remboursé en trop{NBSP}: stripe {reservation.external_payment_id}, 200.00 EUR de plus "
        "que le paiement"
    ) in html
    assert (
        f"réservation r-locked{NBSP}: elle était occupée, le prochain rapprochement la reprendra"
    ) in html
    assert f"r-stripe{NBSP}: No such session" in html  # the provider's words, as they came
    assert f"le rapprochement s{APOS}est arrêté{NBSP}: ValueError" in html
    for english in ("too much", "busy", "stopped", "could not ask"):
        assert english not in html, english


def test_the_replay_and_retry_confirmations_are_in_french(french_admin):
    """Tried: replaying an event said "Failed, 3 attempt(s), received …", "About Rosie for Jane
    Doe." and "Last error: …"; retrying dead work "Dead, 1 attempt(s)" on a French page."""
    reservation = _paid()
    event = WebhookEvent.objects.create(
        provider="stripe",
        event_id="evt_fr",
        type="checkout.session.completed",
        body=json.dumps({"metadata": {"reservation_id": str(reservation.pk)}}),
        status=WebhookEvent.Status.FAILED,
        attempts=3,
        last_error="boom",
    )
    effect = SideEffect.objects.create(
        kind=Effect.OWNER_DEPOSIT,
        recipient="owner@kennel.example",
        dedup_key="fr:retry",
        status=SideEffect.Status.DEAD,
        attempts=1,
        last_error="smtp down",
        next_attempt_at=timezone.now(),
    )

    replay = act(
        french_admin,
        reverse("admin:payments_webhookevent_changelist"),
        "replay_events",
        event,
        confirm=False,
    ).content.decode()
    retry = act(
        french_admin,
        reverse("admin:core_sideeffect_changelist"),
        "retry_dead",
        effect,
        confirm=False,
    ).content.decode()

    assert "3 tentatives, reçu le" in replay
    assert f"Concerne {reservation.what} pour Jane Doe." in replay
    assert f"Dernière erreur{NBSP}: boom" in replay
    assert "1 tentative" in retry
    assert "1 tentatives" not in retry
    assert f"Dernière erreur{NBSP}: smtp down" in retry
    for english in ("attempt(s)", "received", "About ", "Last error"):
        assert english not in replay, english
        assert english not in retry, english


def test_a_list_deposit_and_the_csv_export_read_in_french(french_admin):
    """Tried: a list deposit was "Waiting list: Maple and Hunter" on a French back office, and
    the CSV export's columns were "created", "status", "buyer name"…"""
    litter_with_families(1)
    reservation = entry(1).reservation

    listed = _page(french_admin, reverse("admin:reservations_reservation_changelist"))
    exported = act(
        french_admin,
        reverse("admin:reservations_reservation_changelist"),
        "export_csv",
        reservation,
        confirm=False,
    )

    assert f"Liste d{APOS}attente{NBSP}: Maple and Hunter" in unescape(listed)
    assert "Waiting list" not in unescape(listed)
    header, row = list(csv.reader(io.StringIO(exported.content.decode())))
    assert header == [
        "créée le",
        "statut",
        "chiot",
        f"nom de l{APOS}acheteur",
        f"e-mail de l{APOS}acheteur",
        f"téléphone de l{APOS}acheteur",
        "prestataire",
        "acompte",
        "devise",
        "remboursé",
        "confirmée le",
    ]
    assert row[2] == f"Liste d{APOS}attente{NBSP}: Maple and Hunter"
