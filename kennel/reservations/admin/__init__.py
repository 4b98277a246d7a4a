"""The breeder's back office for reservations: one readable page per reservation (its money,
timeline, refunds, emails and provider events), and the owner's actions — refund, picked up,
release, resend the confirmation, erase the buyer — each shown on a confirmation page first
and done by one service. Only the internal notes are edited here.

- reservation.py: the ModelAdmin — the list, its action menu, the detail page's addresses
- actions.py: the owner's actions — what each says on its confirmation page, and does
- detail.py: what the detail page shows — amounts, timeline, refunds, emails, events
- export.py: the list's CSV export
- waitlist.py: the waiting lists' families (and the litter page's list of them), moving one
"""

# Django autodiscovers `kennel.reservations.admin`: importing the ModelAdmin registers it.
from kennel.reservations.admin import reservation as reservation
from kennel.reservations.admin import waitlist as waitlist
