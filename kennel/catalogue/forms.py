"""Forms of the public catalogue pages."""

from django import forms

from kennel.catalogue.models import Puppy


class CatalogueFilterForm(forms.Form):
    """The catalogue's GET filters. An unknown value is ignored rather than refused."""

    breed = forms.CharField(required=False, max_length=80)
    sex = forms.ChoiceField(required=False, choices=[("", "Any"), *Puppy.Sex.choices])
    status = forms.ChoiceField(
        required=False, choices=[("", "All puppies"), ("available", "Available now")]
    )

    def filters(self) -> dict[str, str]:
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {name: cleaned.get(name) or "" for name in ("breed", "sex", "status")}
