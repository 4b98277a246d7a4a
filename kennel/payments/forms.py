"""The reserve form and the waiting list's join form. The buyer's details are checked by the
reservation service's own rules (`buyer_validate`), so the page and the JSON API accept and
refuse the same input."""

from typing import Any

from django import forms
from django.utils import translation
from django.utils.translation import gettext_lazy

from kennel.catalogue.content import terms_version_current
from kennel.core.errors import ValidationFailed, message_translated
from kennel.core.text import MultilineField
from kennel.reservations.buyers import (
    EMAIL_MAX,
    NAME_MAX,
    PHONE_MAX,
    TERMS_VERSION_MAX,
    Buyer,
    TermsChanged,
    buyer_validate,
)
from kennel.reservations.models import Reservation, WaitlistEntry
from kennel.reservations.waitlist import NOTES_MAX, Preferences, preferences_validate

PROVIDER_MESSAGE = gettext_lazy("Please choose Stripe or PayPal.")
ANALYTICS_CONSENT_LABEL = gettext_lazy(
    "I agree that this shop reports my deposit to Google Analytics and Meta (Facebook) to "
    "measure its advertising. Optional: the reservation is the same without it."
)


class ReserveForm(forms.Form):
    """The reserve form. `providers` are the payment methods on offer (values of
    Reservation.Provider); any other value is refused like a missing one."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=NAME_MAX, required=False)
    email = forms.CharField(label=gettext_lazy("Email"), max_length=EMAIL_MAX, required=False)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=PHONE_MAX, required=False)
    provider = forms.ChoiceField(
        label=gettext_lazy("Payment method"),
        choices=Reservation.Provider.choices,
        error_messages={"required": PROVIDER_MESSAGE, "invalid_choice": PROVIDER_MESSAGE},
    )
    # Unchecked unless the buyer ticks it: without it GA4 and Meta never hear of the purchase.
    analytics_consent = forms.BooleanField(required=False, initial=False)
    # Required, but checked by buyer_validate, so the page and the API say the same thing.
    accept_terms = forms.BooleanField(
        label=gettext_lazy("Deposit and refund terms"), required=False, initial=False
    )
    # Hidden: the terms' version the page showed (a page from before it carried one sends none).
    terms_version = forms.CharField(required=False, max_length=TERMS_VERSION_MAX)

    buyer: Buyer | None = None

    def __init__(self, *args: Any, providers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(Reservation.Provider.choices)
        provider_field = self.fields["provider"]
        assert isinstance(provider_field, forms.ChoiceField)
        provider_field.choices = [(name, labels[name]) for name in providers]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            self.buyer = buyer_validate(
                name=cleaned.get("name") or "",
                email=cleaned.get("email") or "",
                phone=cleaned.get("phone") or "",
                accepted_terms=bool(cleaned.get("accept_terms")),
                terms_shown=cleaned.get("terms_version") if "terms_version" in self.data else None,
                # The page's language (LocaleMiddleware): the buyer's emails are written in it.
                language=translation.get_language() or "",
            )
        except ValidationFailed as exc:
            self.add_service_errors(exc)
        except TermsChanged as exc:
            self.add_error("accept_terms", message_translated(exc.message))
        return cleaned

    def terms_version_shown(self) -> str:
        """The version of the terms the page shows now, for its hidden field."""
        return terms_version_current()

    def add_service_errors(self, exc: ValidationFailed) -> None:
        """Show a service's field errors next to their fields (one message per field), in
        the page's language (the service's messages are marked for translation, not translated)."""
        for field, messages in exc.extra.get("fields", {}).items():
            target = field if field in self.fields else None
            if target is not None and target in self.errors:
                continue  # the field's own check already explained it
            for message in messages:
                self.add_error(target, message_translated(message))


class WaitlistJoinForm(ReserveForm):
    """The form to join a litter's waiting list: the reserve form's details, terms and
    payment method, and the family's wishes, checked by the waiting list's own rules
    (`preferences_validate`), so the page and the JSON API accept and refuse the same input."""

    sex = forms.ChoiceField(
        label=gettext_lazy("Sex wanted"),
        choices=WaitlistEntry.Sex.choices,
        initial=WaitlistEntry.Sex.ANY,
        required=False,
        error_messages={"invalid_choice": gettext_lazy("Please choose any, female or male.")},
    )
    colour = forms.CharField(label=gettext_lazy("Colour wanted"), max_length=60, required=False)
    notes = MultilineField(
        label=gettext_lazy("Notes for the breeder"), max_length=NOTES_MAX, required=False
    )

    preferences: Preferences | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        try:
            self.preferences = preferences_validate(
                sex=cleaned.get("sex") or "",
                colour=cleaned.get("colour") or "",
                notes=cleaned.get("notes") or "",
            )
        except ValidationFailed as exc:
            self.add_service_errors(exc)
        return cleaned
