from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

from kennel.reservations.services import EMAIL_MAX, NAME_MAX, PHONE_MAX


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


class ReservationIn(Schema):
    puppy: str = Field(min_length=1, max_length=80, description="The puppy's slug")
    name: str = Field(max_length=NAME_MAX)
    email: str = Field(max_length=EMAIL_MAX)
    phone: str = Field(max_length=PHONE_MAX)
    provider: Literal["stripe", "paypal"]
    analytics_consent: bool = Field(
        default=False,
        description="The buyer agrees that the deposit is reported to Google Analytics and Meta",
    )
    accept_terms: bool = Field(
        default=False,
        description=(
            "The buyer accepts the deposit and refund terms (/terms/); required: without it, "
            "422 VALIDATION_ERROR naming `accept_terms`. The version accepted is kept."
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
