from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_serializer,
)

from kennel.core.money import quantize
from kennel.core.text import one_line_break
from kennel.reservations.buyers import (
    EMAIL_LOCAL_MAX,
    EMAIL_MAX,
    EMAIL_PATTERN,
    NAME_MAX,
    PHONE_DIGITS_MIN,
    PHONE_MAX,
    TERMS_VERSION_MAX,
)
from kennel.reservations.waitlist import COLOUR_MAX, NOTES_MAX


class ErrorBody(Schema):
    code: str
    message: str
    details: dict | None = None


class ErrorOut(Schema):
    error: ErrorBody


# What a write may answer besides its success: bad input, cross-site or not JSON, not found,
# refused, a lock or the database away; one that opens a checkout adds the limits and the
# provider's failures.
WRITE_ERRORS: dict[int, type[Schema]] = dict.fromkeys((400, 403, 404, 409, 415, 422, 503), ErrorOut)
CHECKOUT_ERRORS: dict[int, type[Schema]] = {**WRITE_ERRORS, 429: ErrorOut, 502: ErrorOut}


def created_links_to(operation_id: str, *, name: str, description: str) -> dict[str, Any]:
    """A 201's OpenAPI link to the operation that reads what it created (by its `token`), so
    clients and schemathesis's stateful phase can follow it."""
    link = {
        "operationId": operation_id,
        "parameters": {"token": "$response.body#/token"},
        "description": description,
    }
    return {"responses": {201: {"links": {name: link}}}}


def in_currency_places(amount: Decimal, currency: str) -> Decimal:
    """An amount as the API writes it: a decimal string with its currency's own places
    (kennel/core/money.py), as the pages show it — "350000" JPY, "1500.00" EUR — not the
    database column's two."""
    return quantize(amount, currency)


class PuppyOut(Schema):
    slug: str
    name: str
    breed: str
    sex: str
    colour: str
    born_on: date
    price: Decimal
    deposit: Decimal
    currency: str
    status: str
    family_choosing: bool = Field(
        description="An available puppy the family choosing now on the waiting list could "
        "choose: its turn comes first, so a reservation of it is refused (409 "
        "PUPPY_NOT_AVAILABLE) until that family has chosen. Always false for a puppy not "
        "available."
    )
    url: str
    litter: str | None
    photos: list[str]

    @field_serializer("price", "deposit")
    def _amount(self, amount: Decimal) -> Decimal:
        return in_currency_places(amount, self.currency)


# The API states every rule the server enforces (schemathesis checks both ways: what the schema
# allows is accepted, what it refuses is a 422). Patterns are plain character classes, read the
# same by pydantic's engine, by JSON Schema's and by Python's; each is no looser than
# buyer_validate, which still runs.
_CONTROL = "\x00-\x1f\x7f-\x9f"
# Whitespace to Python's str.strip() and to JSON Schema's \s alike (never a name on its own).
_SPACE = " \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NAME_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"
# Digits, spaces and + - ( ) . /, with at least PHONE_DIGITS_MIN digits.
PHONE_PATTERN = f"^[-+() ./]*([0-9][-+() ./]*){{{PHONE_DIGITS_MIN},}}$"
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
# JSON Schema's `email` format allows at most EMAIL_LOCAL_MAX characters before the @; the
# pattern cannot say so without a look-ahead, which pydantic's engine does not read.


def _email_local_part_short(value: str) -> str:
    if len(value.partition("@")[0]) > EMAIL_LOCAL_MAX:
        raise ValueError(f"At most {EMAIL_LOCAL_MAX} characters before the @.")
    return value


Email = Annotated[
    str,
    Field(
        min_length=6,
        max_length=EMAIL_MAX,
        pattern=EMAIL_PATTERN,
        json_schema_extra={"format": "email"},
    ),
    AfterValidator(_email_local_part_short),
]


def _terms_required(schema: dict[str, Any]) -> None:
    """`accept_terms` must be sent, and true: the schema says so (the server answers 422
    VALIDATION_ERROR naming it otherwise, with the message the shop's form shows)."""
    schema.setdefault("required", [])
    if "accept_terms" not in schema["required"]:
        schema["required"].append("accept_terms")
    schema["properties"]["accept_terms"].pop("default", None)


class BuyerIn(Schema):
    """Who reserves a puppy or joins a waiting list, and how they pay."""

    terms_version: str | None = Field(
        default=None,
        max_length=TERMS_VERSION_MAX,
        description=(
            "The version of the deposit and refund terms the buyer was shown (the one /terms/ "
            "says). If the breeder has published another since: 409 TERMS_CHANGED, nothing "
            "written — show the terms again. Without it, the version in force is the one "
            "recorded as accepted."
        ),
    )

    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)
    email: Email
    phone: str = Field(
        min_length=PHONE_DIGITS_MIN,
        max_length=PHONE_MAX,
        pattern=PHONE_PATTERN,
        description="Digits, spaces and + - ( ) . / only; at least 6 digits",
    )
    provider: Literal["stripe", "paypal"]
    analytics_consent: bool = Field(
        default=False,
        strict=True,
        description="The buyer agrees that the deposit is reported to Google Analytics and Meta",
    )


class ReservationIn(BuyerIn):
    model_config = ConfigDict(json_schema_extra=_terms_required)

    puppy: str = Field(
        min_length=1, max_length=80, pattern=SLUG_PATTERN, description="The puppy's slug"
    )
    accept_terms: bool = Field(
        default=False,
        strict=True,  # JSON's true, not 1 or "yes" (the schema says boolean)
        json_schema_extra={"const": True},
        description=(
            "The buyer accepts the deposit and refund terms (/terms/); required and true: "
            "otherwise 422 VALIDATION_ERROR naming `accept_terms`. The version accepted is kept."
        ),
    )


class ReservationOut(Schema):
    id: UUID
    token: str
    status: str
    expires_at: datetime
    puppy: str | None = Field(description="The puppy's slug; null for a waiting list's deposit")
    deposit_amount: Decimal
    currency: str
    provider: str
    provider_reference: str | None
    status_url: str
    checkout_url: str | None

    @field_serializer("deposit_amount")
    def _amount(self, amount: Decimal) -> Decimal:
        return in_currency_places(amount, self.currency)


class ReservationCreatedOut(ReservationOut):
    checkout_url: str


# --- waiting lists ---


class LitterOut(Schema):
    slug: str
    name: str
    stage: Literal["planned", "expected", "born", "ready"]
    born_on: date | None
    expected_on: date | None
    go_home_on: date | None
    waitlist_open: bool
    waitlist_deposit: Decimal | None = Field(
        description="What a family pays to join the list; null when it cannot be joined"
    )
    currency: str
    families_waiting: int = Field(description="Families on the list (waiting or choosing)")
    deposit_terms: Literal["refundable", "non_refundable", "transferable"]
    refund_days: int = Field(
        description="Refundable terms: a withdrawal refunds in full until this many days "
        "before go_home_on"
    )
    picking: Literal["not_open", "open", "closed"]

    @field_serializer("waitlist_deposit")
    def _amount(self, amount: Decimal | None) -> Decimal | None:
        return None if amount is None else in_currency_places(amount, self.currency)


def _one_line_break(value: Any) -> Any:
    return one_line_break(value) if isinstance(value, str) else value  # else: a type error


class WaitlistIn(BuyerIn):
    model_config = ConfigDict(json_schema_extra=_terms_required)

    sex: Literal["any", "female", "male"] = Field(
        default="any", description="The puppy the family hopes for"
    )
    colour: str = Field(
        default="",
        max_length=COLOUR_MAX,
        pattern=f"^[^{_CONTROL}]*$",
        description="The colour the family hopes for (plain text, one line)",
    )
    # Line breaks made "\n" before the length is checked: CRLF counts one, as the reader sees.
    notes: Annotated[str, BeforeValidator(_one_line_break)] = Field(
        default="",
        max_length=NOTES_MAX,
        pattern="^[^\x00]*$",
        description=(
            "Anything the family wants the breeder to know; each line break (CRLF, CR or LF) "
            "counts as one character"
        ),
    )
    accept_terms: bool = Field(
        default=False,
        strict=True,  # JSON's true, not 1 or "yes" (the schema says boolean)
        json_schema_extra={"const": True},
        description=(
            "The family accepts the litter's deposit terms (`deposit_terms`, `refund_days`) "
            "and the shop's (/terms/); required and true: otherwise 422 VALIDATION_ERROR "
            "naming `accept_terms`. The terms accepted are kept with the deposit."
        ),
    )


class WaitlistCreatedOut(Schema):
    token: str = Field(description="The family's place on the list: GET /api/waitlist/<token>/")
    status: Literal["pending"]
    checkout_url: str


class HeldOut(Schema):
    puppy: str = Field(description="The puppy's slug")
    until: datetime = Field(description="When the shop buyer's hold on it runs out unpaid")


class WaitlistOut(Schema):
    status: Literal["pending", "waiting", "choosing", "picked", "passed", "withdrawn", "unpaid"]
    position: int | None = Field(
        description=(
            "1, 2, 3… in the order deposits were confirmed; null before that and once the "
            "family is no longer in line"
        )
    )
    ahead: int = Field(description="Families still on the list before this one")
    turn_ends_at: datetime | None = Field(description="While choosing: when the turn passes")
    choices: list[str] = Field(description="While choosing: the slugs of the puppies offered")
    held: list[HeldOut] = Field(
        description=(
            "While choosing: the puppies the family's wishes match that a buyer in the shop is "
            "paying for now; each is offered to the family if that hold runs out unpaid"
        )
    )
    litter: str
    deposit: Decimal
    currency: str
    terms: Literal["refundable", "non_refundable", "transferable"]
    refund_days: int
    reservation: str | None = Field(
        description="Once picked: the reservation's token (GET /api/reservations/<token>/)"
    )

    @field_serializer("deposit")
    def _amount(self, amount: Decimal) -> Decimal:
        return in_currency_places(amount, self.currency)


class PickIn(Schema):
    puppy: str = Field(
        min_length=1, max_length=80, pattern=SLUG_PATTERN, description="The puppy's slug"
    )


class NothingIn(BaseModel):
    """Send `{}`: a write that needs no data still sends a JSON object, which a browser on
    another site cannot send without asking first (kennel/api/guards.py)."""

    # Pydantic's own model: ninja's Schema would read any JSON value as an empty object.


class PassedOut(Schema):
    status: Literal["passed"]


class RefundOut(Schema):
    amount: Decimal
    currency: str

    @field_serializer("amount")
    def _amount(self, amount: Decimal) -> Decimal:
        return in_currency_places(amount, self.currency)


class WithdrawnOut(Schema):
    status: Literal["withdrawn"]
    refund: RefundOut | None = Field(
        description="The deposit going back (the terms allow it now), or null: the breeder keeps it"
    )
