from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict, Field

from kennel.reservations.services import EMAIL_MAX, NAME_MAX, PHONE_MAX

PHONE_DIGITS_MIN = 6


class ErrorBody(Schema):
    code: str
    message: str
    details: dict | None = None


class ErrorOut(Schema):
    error: ErrorBody


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
    url: str
    litter: str | None
    photos: list[str]


# The API states every rule the server enforces (schemathesis checks both ways: what the schema
# allows is accepted, what it refuses is a 422). Patterns are plain character classes, read the
# same by pydantic's engine, by JSON Schema's and by Python's; each is no looser than
# buyer_validate, which still runs.
_CONTROL = "\x00-\x1f\x7f-\x9f"
# Whitespace to Python's str.strip() and to JSON Schema's \s alike (never a name on its own).
_SPACE = " \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NAME_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"
# A subset of Django's validate_email: dot-atom local part, dotted host names, a letter TLD.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}$"
)
# Digits, spaces and + - ( ) . /, with at least PHONE_DIGITS_MIN digits.
PHONE_PATTERN = f"^[-+() ./]*([0-9][-+() ./]*){{{PHONE_DIGITS_MIN},}}$"
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"


def _terms_required(schema: dict[str, Any]) -> None:
    """`accept_terms` must be sent, and true: the schema says so (the server answers 422
    VALIDATION_ERROR naming it otherwise, with the message the shop's form shows)."""
    schema.setdefault("required", [])
    if "accept_terms" not in schema["required"]:
        schema["required"].append("accept_terms")
    schema["properties"]["accept_terms"].pop("default", None)


class ReservationIn(Schema):
    model_config = ConfigDict(json_schema_extra=_terms_required)

    puppy: str = Field(
        min_length=1, max_length=80, pattern=SLUG_PATTERN, description="The puppy's slug"
    )
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)
    email: str = Field(
        min_length=6,
        max_length=EMAIL_MAX,
        pattern=EMAIL_PATTERN,
        json_schema_extra={"format": "email"},
    )
    phone: str = Field(
        min_length=PHONE_DIGITS_MIN,
        max_length=PHONE_MAX,
        pattern=PHONE_PATTERN,
        description="Digits, spaces and + - ( ) . / only; at least 6 digits",
    )
    provider: Literal["stripe", "paypal"]
    analytics_consent: bool = Field(
        default=False,
        description="The buyer agrees that the deposit is reported to Google Analytics and Meta",
    )
    accept_terms: bool = Field(
        default=False,
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
    puppy: str
    deposit_amount: Decimal
    currency: str
    provider: str
    provider_reference: str | None
    status_url: str
    checkout_url: str | None


class ReservationCreatedOut(ReservationOut):
    checkout_url: str
