"""HTML of the sandbox's PayPal approve page (plain, accessible, no external assets)."""

from __future__ import annotations

from html import escape

from sandbox.core import JSON
from sandbox.html import banner, page

#: Approve-page buttons: (outcome, label). The ``outcome`` values are part of the public interface.
BUTTONS: tuple[tuple[str, str], ...] = (
    ("approve", "Approve and pay {amount} with PayPal (succeeds)"),
    ("approve_pending", "Approve: the payment is held for review, then completes"),
    ("approve_pending_denied", "Approve: the payment is held for review, then denied"),
    ("approve_declined", "Approve with a funding source that is declined"),
    (
        "approve_instrument_declined",
        "Approve: the funding source is refused at capture, so choose again",
    ),
    ("cancel", "Cancel and return to the shop"),
)

_BANNER = banner("PayPal", "PayPal")

_STYLE = """
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}
dt{font-weight:600}
button[value=approve]{background:#003087;border-color:#003087;color:#fff}
"""


def approve_page(order: JSON, brand_name: str | None) -> str:
    """The order's approve page: what is paid, to whom, and one form of outcome buttons."""
    unit = order["purchase_units"][0]
    amount = f"{unit['amount']['value']} {unit['amount']['currency_code']}"
    description = unit.get("description")
    rows = f"<dt>Amount</dt><dd><strong>{escape(amount)}</strong></dd>"
    if description:
        rows = f"<dt>For</dt><dd>{escape(str(description))}</dd>" + rows
    if brand_name:
        rows = f"<dt>Paid to</dt><dd>{escape(brand_name)}</dd>" + rows
    buttons = "\n".join(
        f'<button type="submit" name="outcome" value="{outcome}">'
        f"{escape(label.format(amount=amount))}</button>"
        for outcome, label in BUTTONS
    )
    order_id = escape(str(order["id"]))
    body = f"""{_BANNER}
<h1>Pay with PayPal</h1>
<dl>
{rows}
<dt>Order</dt><dd><code>{order_id}</code></dd>
</dl>
<h2 id="outcome-heading">Choose what PayPal does</h2>
<form method="post" action="/checkoutnow?token={order_id}" aria-labelledby="outcome-heading">
<input type="hidden" name="token" value="{order_id}">
{buttons}
</form>"""
    return page(f"Pay {amount} - Kennel sandbox PayPal", body, style=_STYLE)


def unavailable_page(order: JSON | None) -> str:
    """Shown for an order that is unknown or past approval."""
    if order is None:
        detail = "<p>There is no PayPal order with this token.</p>"
    else:
        detail = f"<p>Its status is <strong>{escape(str(order['status']))}</strong>.</p>"
    body = f"""{_BANNER}
<h1>This PayPal order can no longer be approved</h1>
{detail}"""
    return page("PayPal order no longer available - Kennel sandbox", body, style=_STYLE)


def approved_page() -> str:
    """Shown after approval when the order gave no return URL."""
    body = f"""{_BANNER}
<h1>Payment approved</h1>
<p>You can close this window and return to the shop.</p>"""
    return page("Payment approved - Kennel sandbox PayPal", body, style=_STYLE)
