"""The emails themselves: text + HTML from one layout, the facts each reader needs, and nothing
a buyer or the owner typed can become a header or markup."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from kennel.core.errors import HoldRefused
from kennel.core.models import SideEffect
from kennel.notifications.emails import email_message, header_text, message_id
from kennel.notifications.waitlist import when
from kennel.payments.fulfilment import payment_apply
from kennel.payments.models import Refund
from kennel.payments.owner import reservation_refund
from kennel.payments.providers import PaymentSnapshot, PaymentState
from kennel.reservations import services, waitlist
from kennel.reservations.effects import Effect
from kennel.reservations.models import Reservation
from tests.conftest import run_worker_once
from tests.factories import LitterFactory, PuppyFactory
from tests.notifications.conftest import OWNER
from tests.notifications.helpers import confirm, hold

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shop_site")]
K = Effect


def _parts(kind: str) -> tuple[str, str, str]:
    message = email_message(side_effect=SideEffect.objects.get(kind=kind))
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return str(message.subject), str(message.body), str(html)


def _confirmed(**puppy_fields: Any) -> Reservation:
    puppy = PuppyFactory(
        name="Bella", breed="Golden Retriever", price=Decimal("2500.00"), **puppy_fields
    )
    return confirm(hold(puppy), payment_id="pi_test_42")


def test_the_owner_is_told_who_paid_how_much_how_with_a_link_to_the_back_office(owner):
    reservation = _confirmed()

    subject, text, html = _parts(K.OWNER_DEPOSIT)

    assert subject == "Deposit received: Bella, for Jane Doe"
    admin_url = f"https://shop.example/admin/reservations/reservation/{reservation.pk}/change/"
    for body in (text, html):
        assert "Bella" in body
        assert "Jane Doe" in body
        assert "jane.doe@example.com" in body
        assert "+33 6 12 34 56 78" in body
        assert "500.00 EUR" in body
        assert "Card (Stripe)" in body
        assert admin_url in body
        assert "pi_test_42" in body


def test_the_buyer_confirmation_says_what_happens_next_and_links_the_status_page(owner):
    reservation = _confirmed()

    subject, text, html = _parts(K.BUYER_CONFIRMATION)

    assert subject == "Your deposit for Bella is confirmed"
    status_url = f"https://shop.example/reservations/{reservation.token}/"
    for body in (text, html):
        assert "What happens next" in body
        assert "Maple Hill Goldens will contact you" in body
        assert status_url in body
        assert "500.00 EUR" in body
        assert "2,500.00 EUR" in body
        assert "hello@maplehill.example" in body
        assert "+33 6 00 00 00 00" in body
        assert reservation.reference in body  # as the status page and the back office show it


def test_every_email_shares_the_base_layout_with_the_breeder_contact(owner, settings):
    settings.SHOP_NAME = "Maple Hill Shop"
    reservation = _confirmed()
    payment_apply(
        snapshot=PaymentSnapshot(
            provider="stripe",
            reference="cs_1",
            state=PaymentState.REFUNDED,
            reservation_id=str(reservation.pk),
            payment_id="pi_test_42",
        ),
        actor="test",
    )

    kinds = set(SideEffect.objects.values_list("kind", flat=True))
    assert kinds == {K.OWNER_DEPOSIT, K.BUYER_CONFIRMATION, K.BUYER_REFUND, K.OWNER_REFUND}
    for kind in kinds:
        _subject, text, html = _parts(kind)
        assert text.startswith("Maple Hill Shop\n\n")
        assert text.endswith(
            "\n\n--\nMaple Hill Goldens\nhello@maplehill.example\n+33 6 00 00 00 00\n"
        )
        assert html.startswith("<!DOCTYPE html>")
        assert "Maple Hill Shop</td>" in html
        assert 'href="mailto:hello@maplehill.example"' in html


@pytest.mark.parametrize(
    ("kind", "subject", "phrase"),
    [
        (K.BUYER_PROCESSING, "Your payment for Bella is being processed", "stays held for you"),
        (K.BUYER_FAILED, "Your payment for Bella did not go through", "nothing was charged"),
        (K.BUYER_EXPIRED, "Your hold on Bella has ended", "was not paid in time"),
    ],
)
def test_the_buyer_is_told_when_a_payment_is_processing_fails_or_expires(
    owner, kind, subject, phrase
):
    reservation = hold(PuppyFactory(name="Bella"))
    if kind == K.BUYER_PROCESSING:
        with services.locked_transaction():
            locked = Reservation.objects.select_for_update().get(pk=reservation.pk)
            services.reservation_mark_processing(locked, actor="test")
    elif kind == K.BUYER_FAILED:
        services.reservation_release(
            reservation_id=reservation.pk, status="released", actor="t", reason="payment_failed"
        )
    else:
        Reservation.objects.filter(pk=reservation.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
        services.reservations_expire_due()

    got_subject, text, html = _parts(kind)

    assert got_subject == subject
    assert phrase in text
    assert phrase in html
    link = reservation.token if kind == K.BUYER_PROCESSING else reservation.puppy.slug
    assert link in text
    assert link in html


@pytest.mark.parametrize(
    ("provider", "says", "never"),
    [("stripe", "Your bank is processing", "PayPal"), ("paypal", "PayPal is reviewing", "bank")],
)
def test_a_payment_being_processed_is_told_by_who_is_on_it(owner, provider, says, never):
    """Tried: a PayPal payment held for review was told as "Your bank is processing"."""
    reservation = hold(PuppyFactory(name="Bella"))
    Reservation.objects.filter(pk=reservation.pk).update(provider=provider)
    with services.locked_transaction():
        locked = Reservation.objects.select_for_update().get(pk=reservation.pk)
        services.reservation_mark_processing(locked, actor="test")

    _subject, text, html = _parts(K.BUYER_PROCESSING)

    for body in (text, html):
        assert says in body
        assert f"{never} is processing" not in body
        assert "stays held for you" in body


def _refused_another(reservation: Reservation) -> None:
    """The same email tries to hold another puppy (from another device, say): refused."""
    with pytest.raises(HoldRefused) as refused:
        hold(PuppyFactory(name="Max"), email=reservation.buyer_email)
    assert refused.value.code == "HOLD_LIMIT_REACHED"


def test_a_refused_second_hold_emails_the_link_to_pay_or_cancel_the_first(owner, settings):
    settings.HOLDS_PER_EMAIL = 1
    reservation = hold(PuppyFactory(name="Bella", breed="Golden Retriever"))

    _refused_another(reservation)
    subject, text, html = _parts(K.BUYER_HOLD_LINK)

    assert subject == "Your hold on Bella: the link to pay or cancel it"
    message = email_message(side_effect=SideEffect.objects.get(kind=K.BUYER_HOLD_LINK))
    assert message.to == ["jane.doe@example.com"]
    status_url = f"https://shop.example/reservations/{reservation.token}/"
    ends = when(reservation.expires_at)
    for body in (text, html):
        assert "Bella is already on hold for you" in body
        assert "you can pay the deposit for Bella, or cancel the hold" in body
        assert f"Unpaid, the hold ends by itself on {ends}." in body
        assert status_url in body
        assert reservation.reference in body
        assert "If it was not you, you can ignore this email" in body
        assert "Max" not in body  # the refused attempt is not the email's subject


def test_the_link_to_a_hold_is_in_the_language_it_was_made_in(owner, settings):
    settings.HOLDS_PER_EMAIL = 1
    buyer = services.Buyer(
        name="Camille", email="camille@example.fr", phone="+33 6 12 34 56 78", language="fr"
    )
    reservation = hold(PuppyFactory(name="Bella"), buyer=buyer)

    _refused_another(reservation)
    subject, text, html = _parts(K.BUYER_HOLD_LINK)

    assert subject == "Votre réservation de Bella\u00a0: le lien pour la payer ou l\u2019annuler"
    assert "Bella est déjà en cours de réservation pour vous" in text
    assert '<html lang="fr">' in html


def test_a_list_deposit_waiting_for_payment_is_linked_as_the_familys_page(owner, settings):
    settings.HOLDS_PER_EMAIL = 1
    litter = LitterFactory(
        name="Spring litter", waitlist_open=True, waitlist_deposit=Decimal("300.00")
    )
    buyer = services.Buyer(name="Jane Doe", email="jane.doe@example.com", phone="+33 612345678")
    entry = waitlist.waitlist_join(
        litter_slug=litter.slug, buyer=buyer, provider="stripe", preferences=waitlist.Preferences()
    )

    _refused_another(entry.reservation)
    subject, text, html = _parts(K.BUYER_HOLD_LINK)

    assert subject == "Your place on the waiting list for Spring litter: the link to pay for it"
    for body in (text, html):
        assert "the waiting list for Spring litter is still waiting for its deposit" in body
        assert f"https://shop.example/waitlist/{entry.token}/" in body


@pytest.mark.django_db(transaction=True)  # the worker runs as it does: its own transactions
def test_the_link_to_a_hold_paid_meanwhile_is_not_sent(owner, settings):
    settings.HOLDS_PER_EMAIL = 1
    reservation = hold(PuppyFactory(name="Bella"))
    _refused_another(reservation)

    confirm(reservation)
    run_worker_once()

    assert [m.subject for m in mail.outbox if m.to == ["jane.doe@example.com"]] == [
        "Your deposit for Bella is confirmed"
    ]
    link = SideEffect.objects.get(kind=K.BUYER_HOLD_LINK)
    assert (link.status, link.last_error) == ("sent", "not sent: the reservation is confirmed now")


def _late_payment_refunded() -> None:
    """Bella's hold ran out, another family held her, then the first family's payment came."""
    puppy = PuppyFactory(name="Bella")
    late = hold(puppy)
    Reservation.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    hold(puppy, email="other@example.com")
    payment_apply(
        snapshot=PaymentSnapshot(
            provider="stripe",
            reference="cs_1",
            state=PaymentState.PAID,
            reservation_id=str(late.pk),
            payment_id="pi_late",
            amount=late.deposit_amount,
            currency="EUR",
        ),
        actor="test",
    )


def test_a_late_payment_refund_explains_why_to_buyer_and_owner(owner):
    _late_payment_refunded()

    subject, text, html = _parts(K.BUYER_REFUND)
    owner_subject, owner_text, _ = _parts(K.OWNER_REFUND)

    assert subject == "Your payment for Bella is being refunded"
    assert "arrived after your hold on Bella had ended" in text
    assert "400.00 EUR" in html
    assert owner_subject == "Refund issued: Bella, Jane Doe"
    assert "reason: Paid after the puppy was taken" in owner_text
    assert "pi_late" in owner_text


# The back office's words for each Refund.Reason, in French (the shop's language may be).
FRENCH_REASONS = {
    Refund.Reason.LATE_PAYMENT: "Payé alors que le chiot était déjà pris",
    Refund.Reason.AMOUNT_MISMATCH: "Montant payé différent de l\u2019acompte",
    Refund.Reason.DUPLICATE_PAYMENT: "Un second paiement pour une même réservation",
    Refund.Reason.OWNER: "Remboursé par l\u2019éleveur (espace de gestion)",
    Refund.Reason.PROVIDER: "Remboursé chez le prestataire de paiement (tableau de bord)",
    Refund.Reason.WITHDRAWN: (
        "La famille a quitté la liste d\u2019attente (conditions remboursables)"
    ),
}


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("reason", list(Refund.Reason))
def test_the_owner_reads_why_a_refund_went_in_words_never_its_code(
    owner, settings, reason, language
):
    """Tried: the owner's refund email ended "reason owner" (the code the refund stores), in
    English and on a French shop alike."""
    settings.LANGUAGE_CODE = language
    reservation = _confirmed()
    reservation_refund(reservation_id=reservation.pk, actor="test", reason=reason)

    _subject, text, html = _parts(K.OWNER_REFUND)

    said = {"en": f"reason: {reason.label}", "fr": f"motif\u00a0: {FRENCH_REASONS[reason]}"}
    for body in (text, html):
        assert said[language] in body
        assert f"reason {reason.value}" not in body
        assert f"motif {reason.value}" not in body


def test_a_refund_the_provider_refused_before_its_email_went_is_told_as_delayed(owner):
    """Tried: the provider refused a refund (the refunds go before the emails) and the buyer
    still read that it was on its way, within 5 to 10 working days; their page said
    "Refund delayed"."""
    _late_payment_refunded()
    _subject, on_its_way, _html = _parts(K.BUYER_REFUND)
    assert "within 5 to 10 working days" in on_its_way

    Refund.objects.filter(external_payment_id="pi_late").update(status=Refund.Status.FAILED)

    _subject, text, html = _parts(K.BUYER_REFUND)
    for body in (text, html):
        assert "Your refund has not gone through yet: the breeder has been told" in body
        assert "5 to 10 working days" not in body


def test_headers_address_the_right_people_and_replies_reach_the_other_side(owner):
    _confirmed()

    to_owner = email_message(side_effect=SideEffect.objects.get(kind=K.OWNER_DEPOSIT))
    to_buyer = email_message(side_effect=SideEffect.objects.get(kind=K.BUYER_CONFIRMATION))

    assert (to_owner.to, to_owner.reply_to) == ([OWNER], ["jane.doe@example.com"])
    assert (to_buyer.to, to_buyer.reply_to) == (
        ["jane.doe@example.com"],
        ["hello@maplehill.example"],
    )
    assert to_owner.from_email == "Maple Hill <shop@maplehill.example>"
    assert to_owner.cc == to_owner.bcc == []


def test_a_side_effect_keeps_one_message_id_for_all_its_tries(owner):
    _confirmed()
    effect = SideEffect.objects.get(kind=K.BUYER_CONFIRMATION)

    first = email_message(side_effect=effect).extra_headers["Message-ID"]

    assert (
        first == email_message(side_effect=effect).extra_headers["Message-ID"] == message_id(effect)
    )
    assert first.startswith("<kennel.")
    assert first.endswith("@maplehill.example>")
    other = SideEffect.objects.get(kind=K.OWNER_DEPOSIT)
    assert message_id(other) != first


def test_names_with_line_breaks_and_markup_stay_text(owner):
    # The reserve form refuses control characters; these rows come in behind its back.
    puppy = PuppyFactory(name='Bella <script>alert("x")</script>')
    reservation = confirm(hold(puppy))
    Reservation.objects.filter(pk=reservation.pk).update(
        buyer_name="Jane\r\nBcc: victim@example.com\r\n\r\n<b>Doe</b>"
    )

    subject, text, html = _parts(K.OWNER_DEPOSIT)
    message = email_message(side_effect=SideEffect.objects.get(kind=K.OWNER_DEPOSIT)).message()

    assert "\r" not in subject
    assert "\n" not in subject
    assert message["Bcc"] is None
    assert "victim@example.com" not in message["To"]
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<b>Doe</b>" not in html
    assert "&lt;b&gt;Doe&lt;/b&gt;" in html
    assert "<b>Doe</b>" in text  # plain text is not HTML: shown as typed, harmless


@pytest.mark.parametrize(
    ("raw", "flat"),
    [
        ("Bella\r\nBcc: x@example.com", "Bella Bcc: x@example.com"),
        ("a\nb\rc\x00d\x1be", "a b c d e"),
        ("line\u2028separator\u0085next", "line separator next"),
        ("  lots   of   space  ", "lots of space"),
    ],
)
def test_header_text_flattens_every_line_break_and_control_character(raw, flat):
    assert header_text(raw) == flat


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("Attention requise\u00a0: Bella", "Attention requise\u00a0: Bella"),
        ("Acompte de 1\u202f500,00\u00a0€", "Acompte de 1\u202f500,00\u00a0€"),
        ("Réservé\u00a0!\r\nBcc: x@example.com", "Réservé\u00a0! Bcc: x@example.com"),
        ("\u00a0 Bella \u202f", "Bella"),
    ],
)
def test_header_text_keeps_the_no_break_spaces_of_french_typography(raw, kept):
    """Tried: a French subject read "Attention requise : …" with a plain, breakable space
    before the colon, where its text (and the email's body) has a no-break one."""
    assert header_text(raw) == kept
