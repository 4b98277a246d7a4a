"""How Stripe objects are read back: ``expand[]`` and list pages.

Each function works on copies of the tables in :class:`~sandbox.stripe.state.StripeState`;
the caller holds the state's lock.
"""

from __future__ import annotations

import copy

from sandbox.core import JSON
from sandbox.stripe import objects
from sandbox.stripe.errors import invalid, not_found
from sandbox.stripe.params import get_expand, get_int, get_str
from sandbox.stripe.state import StripeState

# Which fields ``expand[]`` accepts per object type (the ones that always stay null included,
# so that expanding them is harmless, as on Stripe).
_EXPANDABLE: dict[str, set[str]] = {
    "checkout.session": {
        "payment_intent", "line_items", "customer", "invoice", "payment_link",
        "setup_intent", "subscription",
    },
    "payment_intent": {"latest_charge", "customer", "payment_method", "application", "review"},
    "charge": {"payment_intent", "balance_transaction", "customer", "application", "review"},
    "refund": {"charge", "payment_intent", "balance_transaction"},
}  # fmt: skip


def render(state: StripeState, obj: JSON, paths: list[str]) -> JSON:
    """A copy of ``obj`` with the ``expand[]`` paths expanded."""
    out = copy.deepcopy(obj)
    for path in paths:
        _expand(state, out, path.split("."), path)
    return out


def _expand(state: StripeState, obj: JSON, parts: list[str], full: str) -> None:
    if not parts:
        return
    if obj.get("object") == "list" and parts[0] == "data":
        for item in obj["data"]:
            _expand(state, item, parts[1:], full)
        return
    field = parts[0]
    if field not in _EXPANDABLE.get(str(obj.get("object")), set()):
        raise invalid("expand", f"This property cannot be expanded ({full}).")
    value = obj.get(field)
    if field == "line_items":
        value = _line_items_list(state, str(obj["id"]))
    elif isinstance(value, str):
        target = state.lookup(value)
        value = copy.deepcopy(target) if target is not None else value
    obj[field] = value
    if isinstance(value, dict):
        _expand(state, value, parts[1:], full)


def _line_items_list(state: StripeState, session_id: str) -> JSON:
    items = copy.deepcopy(state.line_items.get(session_id, []))
    return objects.list_object(items, f"/v1/checkout/sessions/{session_id}/line_items")


def page_of(state: StripeState, items: list[JSON], params: JSON, url: str, kind: str) -> JSON:
    """Stripe list pagination over ``items`` (newest first)."""
    limit = get_int(params, "limit", minimum=1, maximum=100) or 10
    ids = [item["id"] for item in items]
    after = get_str(params, "starting_after")
    before = get_str(params, "ending_before")
    if after is not None:
        if after not in ids:
            raise not_found(kind, after, "starting_after")
        items = items[ids.index(after) + 1 :]
        page, has_more = items[:limit], len(items) > limit
    elif before is not None:
        if before not in ids:
            raise not_found(kind, before, "ending_before")
        items = items[: ids.index(before)]
        page, has_more = items[-limit:], len(items) > limit
    else:
        page, has_more = items[:limit], len(items) > limit
    listing = objects.list_object(copy.deepcopy(page), url, has_more)
    for path in get_expand(params):
        _expand(state, listing, path.split("."), path)
    return listing
