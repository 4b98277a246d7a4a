"""Through a real SMTP server (aiosmtpd): the worker's emails arrive as multipart text + HTML, to
the right people, with no header a buyer could have slipped in."""

import pytest

from kennel.core.models import SideEffect
from kennel.notifications.emails import message_id
from kennel.reservations.effects import Effect
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory
from tests.notifications.conftest import OWNER
from tests.notifications.helpers import confirm, drain, hold, statuses

pytestmark = pytest.mark.django_db(transaction=True)
BUYER = "jane.doe@example.com"
EXPECTED_HEADERS = {
    "Content-Type",
    "MIME-Version",
    "Subject",
    "From",
    "To",
    "Reply-To",
    "Date",
    "Message-ID",
    "Auto-Submitted",
}


def test_a_confirmed_deposit_reaches_the_mail_server_as_text_and_html(owner, smtp_server):
    reservation = confirm(hold(PuppyFactory(name="Bella")))

    drain()
    received = smtp_server.wait_for(2)

    assert len(received) == 2
    assert sorted(r.rcpt_tos[0] for r in received) == sorted([OWNER, BUYER])
    assert all(len(r.rcpt_tos) == 1 for r in received)
    assert {r.mail_from for r in received} == {"shop@maplehill.example"}
    by_recipient = {r.rcpt_tos[0]: r.message for r in received}
    for recipient, message in by_recipient.items():
        assert set(message.keys()) == EXPECTED_HEADERS
        assert message["To"] == recipient
        assert message["From"] == "Maple Hill <shop@maplehill.example>"
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
        assert "Bella" in message.get_body(("plain",)).get_content()
        assert "<!DOCTYPE html>" in message.get_body(("html",)).get_content()
    owner_mail, buyer_mail = by_recipient[OWNER], by_recipient[BUYER]
    assert owner_mail["Subject"] == "Deposit received: Bella, for Jane Doe"
    assert owner_mail["Reply-To"] == BUYER
    assert buyer_mail["Subject"] == "Your deposit for Bella is confirmed"
    assert buyer_mail["Reply-To"] == "hello@maplehill.example"
    effect = SideEffect.objects.get(kind=Effect.BUYER_CONFIRMATION)
    assert buyer_mail["Message-ID"].strip() == message_id(effect)
    assert set(statuses(reservation).values()) == {"sent"}


def test_a_buyer_name_with_line_breaks_cannot_add_a_recipient_or_a_header(owner, smtp_server):
    puppy = PuppyFactory(name="Bella\r\nX-Injected: puppy")
    reservation = hold(puppy)
    # What the form would refuse, written behind its back: the email layer must hold anyway.
    Reservation.objects.filter(pk=reservation.pk).update(
        buyer_name=(
            "Jane\r\nBcc: victim@example.com\r\nX-Injected: yes\r\n\r\n<img src=x onerror=alert(1)>"
        )
    )
    confirm(reservation)

    drain()
    received = smtp_server.wait_for(2)

    assert len(received) == 2
    assert sorted(r.rcpt_tos[0] for r in received) == sorted([OWNER, BUYER])
    for r in received:
        message = r.message
        assert set(message.keys()) == EXPECTED_HEADERS
        assert "victim@example.com" not in str(message["To"]) + str(message["Reply-To"])
        assert "\n" not in message["Subject"]
        html = message.get_body(("html",)).get_content()
        assert "<img" not in html
        assert b"\r\nBcc:" not in r.data.split(b"\r\n\r\n", 1)[0]
    owner_mail = next(r.message for r in received if r.rcpt_tos == [OWNER])
    assert (
        owner_mail["Subject"]
        == (
            "Deposit received: Bella X-Injected: puppy, for Jane Bcc: victim@example.com "
            "X-Injected: yes <img src=x onerror=alert(1)>"
        )[:150]
    )
    assert "&lt;img src=x onerror=alert(1)&gt;" in owner_mail.get_body(("html",)).get_content()
