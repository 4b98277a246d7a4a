"""HTML of the sandbox's hosted Checkout page (plain, accessible, no external assets)."""

from __future__ import annotations

from html import escape

from sandbox.core import JSON
from sandbox.html import banner, page
from sandbox.stripe.objects import format_amount

#: Hosted-page buttons: (outcome, label). The ``outcome`` values are part of the public interface.
BUTTONS: tuple[tuple[str, str], ...] = (
    ("pay", "Pay {amount} by card (succeeds)"),
    ("async_succeed", "Pay {amount} by bank debit: payment clears a moment later"),
    ("async_fail", "Pay {amount} by bank debit: payment fails a moment later"),
    ("decline", "Pay {amount} with a card that is declined"),
    ("cancel", "Cancel and go back to the shop"),
    ("expire", "Let this checkout session expire"),
)

_BANNER = banner("Stripe", "the payment provider")

_STYLE = """
.error{background:#fde8e8;border:1px solid #b42318;padding:.5rem .75rem;border-radius:.25rem}
table{width:100%;border-collapse:collapse;margin:1rem 0}
th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ccc}
td.num,th.num{text-align:right}
button[value=pay]{background:#1a1a1a;color:#fff}
"""


def checkout_page(session: JSON, line_items: list[JSON], *, declined: bool) -> str:
    """The open session's page: what is bought, the total, and one form of outcome buttons."""
    currency = str(session["currency"])
    total = format_amount(int(session["amount_total"]), currency)
    rows = "\n".join(
        "<tr><td>{name}</td><td class=num>{qty}</td><td class=num>{amount}</td></tr>".format(
            name=escape(str(item["description"])),
            qty=int(item["quantity"]),
            amount=escape(format_amount(int(item["amount_total"]), currency)),
        )
        for item in line_items
    )
    email = session.get("customer_email")
    email_html = f"<p>Paying as <strong>{escape(str(email))}</strong>.</p>" if email else ""
    error_html = (
        '<p class="error" role="alert">Your card was declined. Choose another way to pay.</p>'
        if declined
        else ""
    )
    buttons = "\n".join(
        f'<button type="submit" name="outcome" value="{outcome}">'
        f"{escape(label.format(amount=total))}</button>"
        for outcome, label in BUTTONS
    )
    body = f"""{_BANNER}
<h1>Kennel checkout</h1>
{error_html}
<table>
<caption>Order summary</caption>
<thead><tr><th scope=col>Item</th><th scope=col class=num>Qty</th>
<th scope=col class=num>Amount</th></tr></thead>
<tbody>
{rows}
</tbody>
<tfoot><tr><th scope=row colspan=2>Total due</th>
<td class=num><strong>{escape(total)}</strong></td></tr></tfoot>
</table>
{email_html}
<h2 id="outcome-heading">Choose what the payment provider does</h2>
<form method="post" action="/c/pay/{escape(str(session["id"]))}" aria-labelledby="outcome-heading">
{buttons}
</form>"""
    return page(f"Pay {total} - Kennel sandbox checkout", body, style=_STYLE)


def unavailable_page(session: JSON | None) -> str:
    """Shown for a session that is complete, expired or unknown."""
    if session is None:
        detail = "<p>There is no checkout session with this address.</p>"
    else:
        status = escape(str(session["status"]))
        detail = f"<p>Its status is <strong>{status}</strong>.</p>"
        back = session.get("success_url") if session["status"] == "complete" else None
        back = back or session.get("cancel_url")
        if back:
            back = str(back).replace("{CHECKOUT_SESSION_ID}", str(session["id"]))
            detail += f'<p><a href="{escape(back)}">Return to the shop</a></p>'
    body = f"""{_BANNER}
<h1>This checkout session is no longer available</h1>
{detail}"""
    return page("Checkout session no longer available - Kennel sandbox", body, style=_STYLE)


def receipt_page(charge: JSON) -> str:
    amount = format_amount(int(charge["amount"]), str(charge["currency"]))
    refunded = int(charge["amount_refunded"])
    refund_html = (
        f"<p>Refunded: {escape(format_amount(refunded, str(charge['currency'])))}</p>"
        if refunded
        else ""
    )
    body = f"""{_BANNER}
<h1>Receipt</h1>
<p>Payment <code>{escape(str(charge["id"]))}</code>: {escape(amount)}, status
{escape(str(charge["status"]))}.</p>
{refund_html}"""
    return page("Receipt - Kennel sandbox", body, style=_STYLE)
