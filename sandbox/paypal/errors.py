"""PayPal's error answers: ``name``, ``message``, ``debug_id``, ``details[].issue`` and an
``information_link`` (plus, for some issues, more HATEOAS links)."""

from __future__ import annotations

from typing import Any

from sandbox.core import JSON
from sandbox.paypal.objects import debug_id, link

_MESSAGES = {
    400: (
        "INVALID_REQUEST",
        "Request is not well-formed, syntactically incorrect, or violates schema.",
    ),
    401: (
        "AUTHENTICATION_FAILURE",
        "Authentication failed due to invalid authentication credentials or a missing "
        "Authorization header.",
    ),
    404: ("RESOURCE_NOT_FOUND", "The specified resource does not exist."),
    422: (
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed "
        "business validation.",
    ),
    500: ("INTERNAL_SERVER_ERROR", "An internal server error occurred."),
}


class PayPalError(Exception):
    """An error answered in PayPal's format: ``name``, ``message``, ``debug_id``, ``details``
    (each with an ``issue``) and an ``information_link`` per issue."""

    def __init__(
        self,
        status: int,
        details: list[JSON] | None = None,
        *,
        api: str = "orders",
        links: list[JSON] | None = None,
    ):
        name, message = _MESSAGES.get(status, _MESSAGES[500])
        super().__init__(f"{status} {name}")
        self.status = status
        self.name = name
        self.message = message
        self.details = details or []
        self.api = api
        self.links = links or []  # more HATEOAS links after the information link

    def body(self) -> JSON:
        out: JSON = {"name": self.name, "message": self.message, "debug_id": debug_id()}
        if self.details:
            out["details"] = self.details
        issue = self.details[0]["issue"] if self.details else self.name
        out["links"] = [
            {
                "href": f"https://developer.paypal.com/docs/api/{self.api}/v2/#error-{issue}",
                "rel": "information_link",
                "method": "GET",
            },
            *self.links,
        ]
        return out


def detail(issue: str, description: str, *, field: str | None = None, value: Any = None) -> JSON:
    item: JSON = {}
    if field is not None:
        item["field"] = field
        if value is not None:
            item["value"] = str(value)
        item["location"] = "body"
    item["issue"] = issue
    item["description"] = description
    return item


def invalid(issue: str, description: str, field: str, value: Any = None) -> PayPalError:
    return PayPalError(400, [detail(issue, description, field=field, value=value)])


def unprocessable(issue: str, description: str, *, api: str = "orders") -> PayPalError:
    return PayPalError(422, [detail(issue, description)], api=api)


def instrument_declined(approve_url: str) -> PayPalError:
    """422 ``INSTRUMENT_DECLINED`` of a capture: the funding source was refused; the buyer
    must choose another at ``approve_url`` (the error's ``redirect`` link)."""
    return PayPalError(
        422,
        [
            detail(
                "INSTRUMENT_DECLINED",
                "The instrument presented was either declined by the processor or bank, or it "
                "can't be used for this payment.",
            )
        ],
        links=[link(approve_url, "redirect")],
    )


def not_found(api: str = "orders") -> PayPalError:
    return PayPalError(
        404,
        [
            detail(
                "INVALID_RESOURCE_ID",
                "Specified resource ID does not exist. Please check the resource ID and try again.",
            )
        ],
        api=api,
    )
