"""Stripe's parameter rules: readers that answer a bad value with Stripe's own 400.

The messages, ``code`` and ``param`` values follow what Stripe answers for the same mistakes,
so that the app's error handling is exercised the way the real API would exercise it.
Parameters that exist on Stripe but are not simulated are refused loudly rather than ignored,
so the sandbox never silently pretends to support something it does not.  The Checkout
Session's own rules are in :mod:`sandbox.stripe.session_params`.
"""

from __future__ import annotations

import re

from kennel.core.money import CURRENCIES, UnknownCurrency, currency_info
from sandbox.core import JSON, as_list
from sandbox.stripe.errors import invalid, missing


def path(prefix: str, name: str) -> str:
    """Stripe's name for a nested parameter: ``prefix[name]``."""
    return f"{prefix}[{name}]" if prefix else name


def check_known(params: JSON, known: set[str], prefix: str = "") -> None:
    for name in params:
        if name not in known:
            param = path(prefix, name)
            raise invalid(param, f"Received unknown parameter: {param}", "parameter_unknown")


def refuse_unsimulated(params: JSON, names: set[str], prefix: str = "") -> None:
    for name in names:
        if params.get(name) not in (None, ""):
            param = path(prefix, name)
            raise invalid(
                param,
                f"The Kennel payment sandbox does not simulate `{param}`; "
                "use the real Stripe test mode for it.",
            )


def get_str(
    params: JSON, name: str, *, prefix: str = "", required: bool = False, max_length: int = 5000
) -> str | None:
    value = params.get(name)
    param = path(prefix, name)
    if value is None or value == "":
        # Stripe reads an empty string as "unset".
        if required:
            raise missing(param)
        return None
    if not isinstance(value, str):
        raise invalid(param, f"Invalid string: {value!r}")
    if len(value) > max_length:
        raise invalid(
            param,
            f"Invalid string: {value[:20]}...; must be at most {max_length} characters",
            "string_length_too_long" if max_length < 5000 else None,
        )
    return value


def get_int(
    params: JSON,
    name: str,
    *,
    prefix: str = "",
    required: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    raw = get_str(params, name, prefix=prefix, required=required)
    param = path(prefix, name)
    if raw is None:
        return None
    if not re.fullmatch(r"[+-]?\d+", raw.strip()):
        raise invalid(param, f"Invalid integer: {raw}", "parameter_invalid_integer")
    value = int(raw)
    if minimum is not None and value < minimum:
        raise invalid(
            param,
            f"This value must be greater than or equal to {minimum}.",
            "parameter_invalid_integer",
        )
    if maximum is not None and value > maximum:
        raise invalid(
            param,
            f"This value must be less than or equal to {maximum}.",
            "parameter_invalid_integer",
        )
    return value


def get_bool(params: JSON, name: str, *, prefix: str = "") -> bool | None:
    raw = get_str(params, name, prefix=prefix)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise invalid(path(prefix, name), f"Invalid boolean: {raw}")
    return raw == "true"


def get_enum(params: JSON, name: str, choices: tuple[str, ...], *, prefix: str = "") -> str | None:
    value = get_str(params, name, prefix=prefix)
    if value is not None and value not in choices:
        listed = ", ".join(choices[:-1]) + f", or {choices[-1]}" if len(choices) > 1 else choices[0]
        raise invalid(path(prefix, name), f"Invalid {name}: must be one of {listed}")
    return value


def get_dict(params: JSON, name: str, *, prefix: str = "") -> JSON | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise invalid(path(prefix, name), f"Invalid object: {path(prefix, name)} must be a hash")
    return value


def get_metadata(params: JSON, name: str = "metadata", *, prefix: str = "") -> dict[str, str]:
    """Stripe's metadata rules: at most 50 keys, keys ≤ 40 chars, string values ≤ 500 chars."""
    value = get_dict(params, name, prefix=prefix)
    param = path(prefix, name)
    if value is None:
        return {}
    if len(value) > 50:
        raise invalid(param, "Invalid metadata: metadata can have at most 50 keys.")
    result: dict[str, str] = {}
    for key, item in value.items():
        if len(key) > 40:
            raise invalid(
                param, f"Invalid metadata: keys can be at most 40 characters long ({key})."
            )
        if not isinstance(item, str):
            raise invalid(param, f"Invalid value type: {item!r} must be a string")
        if len(item) > 500:
            raise invalid(
                param, f"Invalid metadata: values can be at most 500 characters long ({key})."
            )
        if item != "":  # an empty value unsets the key
            result[key] = item
    return result


def get_str_list(params: JSON, name: str, *, prefix: str = "") -> list[str] | None:
    value = params.get(name)
    param = path(prefix, name)
    if value is None or value == "":
        return None
    items = as_list(value)
    if items is None or not all(isinstance(item, str) for item in items):
        raise invalid(param, f"Invalid array: {param} must be an array of strings")
    return items


def get_expand(params: JSON) -> list[str]:
    return get_str_list(params, "expand") or []


def get_currency(
    params: JSON, name: str, *, prefix: str = "", required: bool = False
) -> str | None:
    """A currency of Kennel's table (``kennel.core.money``), lower-cased as Stripe writes it.

    Stripe answers any other code with this 400 on the parameter, listing what it supports;
    the sandbox lists the table, which is what it knows the minor units of.
    """
    value = get_str(params, name, prefix=prefix, required=required)
    if value is None:
        return None
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise invalid(path(prefix, name), f"Invalid currency: {value}")
    try:
        currency_info(value)
    except UnknownCurrency:
        supported = ", ".join(sorted(code.lower() for code in CURRENCIES))
        raise invalid(
            path(prefix, name),
            f"Invalid currency: {value.lower()}. The Kennel payment sandbox supports these "
            f"currencies: {supported}.",
        ) from None
    return value.lower()


_URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def get_url(params: JSON, name: str, *, required: bool = False) -> str | None:
    value = get_str(params, name, required=required)
    if value is not None and not _URL_RE.match(value):
        raise invalid(name, "Not a valid URL", "url_invalid")
    return value


def get_email(params: JSON, name: str, *, prefix: str = "") -> str | None:
    value = get_str(params, name, prefix=prefix, max_length=800)
    if value is not None and not _EMAIL_RE.match(value):
        raise invalid(path(prefix, name), f"Invalid email address: {value}", "email_invalid")
    return value
