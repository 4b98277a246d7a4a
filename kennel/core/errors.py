"""Business errors with stable codes, apart from transport failures."""

from typing import Any

from django.utils.translation import gettext, gettext_noop


class Message(str):
    """An English message with its named placeholders filled in (what the JSON API says), which
    still knows its msgid and values, so a page can show it in the buyer's language: a message
    built with an f-string has no translation to find (tried: f"… {NAME_MAX} …", which French
    buyers read in English). `msgid` is marked with gettext_noop where it is written."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> "Message":
        message = super().__new__(cls, msgid % params)
        message.msgid, message.params = msgid, params
        return message


def message_translated(message: str) -> str:
    """`message` in the active language: a constant's translation, or a Message's translated
    msgid with its values put back in."""
    if isinstance(message, Message):
        return gettext(message.msgid) % message.params
    return gettext(message)


class ApplicationError(Exception):
    """A business outcome the caller must show to a person: a stable `code`, a plain `message`.

    `status` is the HTTP status an entry point answers with; `retry_after`, when set, the
    seconds a client is told to wait before trying again (the Retry-After header).
    """

    status = 400
    retry_after: int | None = None

    def __init__(
        self, code: str, message: str, *, extra: dict[str, Any] | None = None, status: int = 0
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra or {}
        if status:
            self.status = status

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.extra:
            body["details"] = self.extra
        return {"error": body}


# User-facing messages are constants so tests and templates agree on them. They stay English
# (the JSON API's `message`); gettext_noop marks them for kennel/locale, and the pages show
# them in the buyer's language (`{% translate error.message %}`).
PUPPY_NOT_AVAILABLE_MESSAGE = gettext_noop(
    "Sorry, this puppy has just been reserved by someone else. It is no longer available."
)
PUPPY_NOT_FOUND_MESSAGE = gettext_noop("There is no puppy at this address.")
PROVIDER_UNAVAILABLE_MESSAGE = gettext_noop(
    "The payment service could not be reached, so nothing was charged and the puppy is "
    "available again. Please try again in a few minutes."
)
PROVIDER_REFUSED_MESSAGE = gettext_noop(
    "The payment service refused to take this payment (for example, an amount it does not "
    "accept), so nothing was charged and the puppy is available again. Trying again will not "
    "help: please contact the breeder."
)
BUSY_MESSAGE = gettext_noop("The shop is busy right now. Please try again in a moment.")
PROVIDER_BUSY_MESSAGE = gettext_noop(
    "The payment service is slow to answer and other buyers are waiting on it, so nothing was "
    "held and nothing was charged. Please try again in a moment."
)
# The link goes by email (reservations/limits.py hold_links_enqueue): the hold may have been
# started on another device, and only the address's owner may learn of it.
HOLDS_PER_EMAIL_MESSAGE = gettext_noop(
    "You already have a puppy on hold. We have emailed the link to it to the address you "
    "gave: pay its deposit or cancel it there, before reserving another."
)
HOLDS_PER_CLIENT_MESSAGE = gettext_noop(
    "Too many puppies are on hold from this connection right now (an office or a mobile "
    "network may share one address between many families), so no more can be held from it. "
    "Please try again when one of those holds has been paid or has run out."
)
HOLD_RATE_MESSAGE = gettext_noop(
    "Too many reservations from this connection. Please try again in a minute."
)
HOLD_COOLDOWN_MESSAGE = gettext_noop(
    "You cancelled a hold on this puppy a moment ago; it is offered to other families first. "
    "Please try again in a few minutes."
)
CONNECTION_HOLD_COOLDOWN_MESSAGE = gettext_noop(
    "A hold on this puppy was cancelled from this connection a moment ago (an office or a "
    "mobile network may share one address between many families); it is offered to other "
    "families first. Please try again in a few minutes."
)
DATABASE_UNAVAILABLE_MESSAGE = gettext_noop(
    "The shop cannot reach its records for a moment, so nothing was changed and nothing was "
    "charged. Please try again in a few seconds."
)


PUPPY_NOT_OFFERED_MESSAGE = gettext_noop(
    "This puppy is not among the ones offered to you in your turn. Please choose one of those."
)


class PuppyNotAvailable(ApplicationError):
    """409 PUPPY_NOT_AVAILABLE: taken by someone else, or (with PUPPY_NOT_OFFERED_MESSAGE)
    not one a waiting family may pick, or (picking.PUPPY_HELD_MESSAGE, `held_until` in
    `extra`) one a shop buyer is paying for now, or (reservations.services.
    FAMILY_CHOOSING_MESSAGE) one the family choosing now on the waiting list could choose."""

    def __init__(
        self, message: str = PUPPY_NOT_AVAILABLE_MESSAGE, *, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__("PUPPY_NOT_AVAILABLE", message, extra=extra, status=409)


PUPPY_WENT_HOME_MESSAGE = gettext_noop(
    "it went home with its family (picked up), so it stays sold. If it came back, refund that "
    "reservation (Refund deposit): the puppy can then go on sale again."
)


class PuppyWentHome(ApplicationError):
    """The back office asked to sell again a puppy whose family picked it up."""

    def __init__(self) -> None:
        super().__init__("PUPPY_WENT_HOME", PUPPY_WENT_HOME_MESSAGE, status=409)


class PuppyNotFound(ApplicationError):
    def __init__(self) -> None:
        super().__init__("PUPPY_NOT_FOUND", PUPPY_NOT_FOUND_MESSAGE, status=404)


class ValidationFailed(ApplicationError):
    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__(
            "VALIDATION_ERROR",
            gettext_noop("Some fields are missing or invalid."),
            extra={"fields": fields},
            status=422,
        )


class Busy(ApplicationError):
    """A row lock could not be taken in time; the caller (or the provider) should retry."""

    retry_after = 2

    def __init__(self) -> None:
        super().__init__("LOCK_TIMEOUT", BUSY_MESSAGE, status=503)


class PaymentProviderFailed(ApplicationError):
    def __init__(self) -> None:
        super().__init__("PROVIDER_UNAVAILABLE", PROVIDER_UNAVAILABLE_MESSAGE, status=502)


class PaymentProviderRefused(ApplicationError):
    """The provider answered and refused the checkout (its validation: an amount above its
    maximum, a setting it does not take). Not an outage: the same request fails again."""

    def __init__(self) -> None:
        super().__init__("PROVIDER_REFUSED", PROVIDER_REFUSED_MESSAGE, status=422)


class ProviderBusy(ApplicationError):
    """Every slot for payment-provider calls in this process is taken (the provider is slow):
    nothing was held or charged; try again after `retry_after` seconds."""

    retry_after = 10

    def __init__(self) -> None:
        super().__init__("PROVIDER_BUSY", PROVIDER_BUSY_MESSAGE, status=503)


class HoldRefused(ApplicationError):
    """A hold the limits refuse (HOLDS_PER_EMAIL, HOLDS_PER_CLIENT, HOLD_RATE, the cool-down):
    nothing was held. 429, with Retry-After when waiting helps."""

    def __init__(self, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(code, message, status=429)
        self.retry_after = retry_after
