"""A buyer's (or a waiting family's) details, cleaned once for the pages and the JSON API."""

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_noop

from kennel.catalogue.content import terms_version_current
from kennel.core.errors import ApplicationError, Message, ValidationFailed
from kennel.reservations.tracking import Tracking

NAME_MAX, PHONE_MAX, EMAIL_MAX = 120, 32, 254
# A subset of Django's validate_email: dot-atom local part, dotted host names, a letter TLD
# (the JSON API's schema says the same: api/schemas.py). No quoted local parts, no address
# literals: what a mail provider hands out, and what the page and the API both accept.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}$"
)
EMAIL_LOCAL_MAX = 64  # characters before the @ (RFC 5321)
PHONE_ALLOWED = set("0123456789+-() ./")
PHONE_DIGITS_MIN = 6
# The field messages stay English here (the JSON API speaks English); gettext_noop marks them
# for kennel/locale, and the reserve form shows them in the buyer's language.
TERMS_NOT_ACCEPTED_MESSAGE = gettext_noop("Please accept the deposit and refund terms to reserve.")
TERMS_VERSION_MAX = 40  # Reservation.terms_version
TERMS_CHANGED_MESSAGE = gettext_noop(
    "The deposit and refund terms changed after this page was shown: please read them again, "
    "then tick the box."
)


class TermsChanged(ApplicationError):
    """The buyer accepted terms the breeder has since replaced: they must read the new ones."""

    def __init__(self) -> None:
        super().__init__(
            "TERMS_CHANGED", TERMS_CHANGED_MESSAGE, extra={"field": "accept_terms"}, status=409
        )


@dataclass(frozen=True)
class Buyer:
    name: str
    email: str
    phone: str
    terms_version: str = ""  # the deposit terms accepted, kept with the reservation
    language: str = ""  # the language they reserved in (settings.LANGUAGES): their emails' one


def name_problem(name: str) -> str | None:
    """What is wrong with a (stripped) buyer's name, in words true for it, or None."""
    if not name:
        return gettext_noop("Please enter your name.")
    if len(name) > NAME_MAX:
        return Message(
            gettext_noop("Please enter a name of at most %(max)s characters."), max=NAME_MAX
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return gettext_noop(
            "Please enter your name without tabs, line breaks or control characters."
        )
    return None


def phone_problem(phone: str) -> str | None:
    """What is wrong with a (stripped) phone number, in words true for it, or None."""
    if not phone:
        return gettext_noop("Please enter a phone number.")
    if len(phone) > PHONE_MAX:
        return Message(
            gettext_noop("Please enter a phone number of at most %(max)s characters."),
            max=PHONE_MAX,
        )
    if not set(phone) <= PHONE_ALLOWED:
        return gettext_noop(
            "Please enter a phone number using digits, spaces and + - ( ) . / only."
        )
    if sum(c.isdigit() for c in phone) < PHONE_DIGITS_MIN:
        return Message(
            gettext_noop("Please enter a phone number with at least %(min)s digits."),
            min=PHONE_DIGITS_MIN,
        )
    return None


def buyer_validate(
    *,
    name: str,
    email: str,
    phone: str,
    accepted_terms: bool,
    terms_shown: str | None = None,
    language: str = "",
) -> Buyer:
    """Clean the buyer's details or raise ValidationFailed listing every bad field.
    `accepted_terms`: the buyer ticked the deposit terms; the version in force is recorded.
    `terms_shown`: the version the buyer was shown; TermsChanged unless it is still in force
    (None: not known, as from an API client that sends none — the version in force is kept).
    `language`: the one they are reading (kept if the shop speaks it, else the shop's own)."""
    name, email, phone = (name or "").strip(), (email or "").strip(), (phone or "").strip()
    errors: dict[str, list[str]] = {}
    if problem := name_problem(name):
        errors["name"] = [problem]
    if not email:
        errors["email"] = [gettext_noop("Please enter your email address.")]
    else:
        try:
            if len(email) > EMAIL_MAX or len(email.partition("@")[0]) > EMAIL_LOCAL_MAX:
                raise ValidationError("too long")
            if not re.fullmatch(EMAIL_PATTERN, email):
                raise ValidationError("not an address the shop takes")
            validate_email(email)
        except ValidationError:
            errors["email"] = [gettext_noop("Please enter a valid email address.")]
    if problem := phone_problem(phone):
        errors["phone"] = [problem]
    if accepted_terms is not True:
        errors["accept_terms"] = [TERMS_NOT_ACCEPTED_MESSAGE]
    if errors:
        raise ValidationFailed(errors)
    terms_version = terms_version_current()
    if terms_shown is not None and terms_shown != terms_version:
        raise TermsChanged()
    return Buyer(
        name=name,
        email=email.lower(),
        phone=phone,
        terms_version=terms_version,
        language=language if language in dict(settings.LANGUAGES) else "",
    )


def buyer_columns(*, buyer: Buyer, tracking: Tracking, client: str) -> dict[str, Any]:
    """A new reservation's columns about who asked for it: the buyer, the terms and language
    they accepted it in, their analytics context (empty without consent) and client key."""
    return {
        "buyer_name": buyer.name,
        "buyer_email": buyer.email,
        "buyer_phone": buyer.phone,
        "analytics_consent": tracking.consent,
        "ga_client_id": tracking.ga_client_id,
        "fbp": tracking.fbp,
        "fbc": tracking.fbc,
        "client_ip": tracking.client_ip,
        "client_user_agent": tracking.user_agent,
        "event_source_url": tracking.source_url,
        "client_key": client,
        "terms_version": buyer.terms_version,
        "language": buyer.language,
    }
