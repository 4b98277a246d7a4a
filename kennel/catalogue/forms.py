"""Forms of the public catalogue pages, and the puppy photos' form in the admin."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from kennel.catalogue.images import (
    Move,
    PhotoRejected,
    photo_check,
    photo_delete,
    photo_process,
    photos_arrange,
)
from kennel.catalogue.models import Puppy, PuppyPhoto
from kennel.core.errors import message_translated


class CatalogueFilterForm(forms.Form):
    """The catalogue's GET filters. An unknown value is ignored rather than refused."""

    breed = forms.CharField(required=False, max_length=80)
    sex = forms.ChoiceField(required=False, choices=[("", "Any"), *Puppy.Sex.choices])
    status = forms.ChoiceField(
        required=False, choices=[("", "All puppies"), ("available", "Available now")]
    )

    FIELDS = ("breed", "sex", "status")

    @classmethod
    def filters_of(cls, query: Any) -> dict[str, str]:
        """The filters a query string asks for; no form is built when it names none (most
        visits: building one deep-copies its fields, a sixth of a cached page's time)."""
        if not any(query.get(name) for name in cls.FIELDS):
            return dict.fromkeys(cls.FIELDS, "")
        return cls(query).filters()

    def filters(self) -> dict[str, str]:
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {name: cleaned.get(name) or "" for name in self.FIELDS}


class PhotoField(forms.ImageField):
    """An upload that passed `photo_check`: a readable photo within the size limits.

    It replaces ImageField's own Pillow pass, which would call every refusal "not an image",
    and its check of the file name's extension: the content decides (a phone's JPEG may be
    named IMG_0001.HEIC), and the refusal names the formats the shop takes.
    """

    default_validators: list[Any] = []

    def to_python(self, data: Any) -> Any:
        file = forms.FileField.to_python(self, data)
        if file is None:
            return None
        try:
            photo_check(file, size=file.size)
        except PhotoRejected as exc:
            raise ValidationError(message_translated(exc.message), code=exc.code) from exc
        return file

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        if "accept" in attrs:
            attrs["accept"] = "image/jpeg,image/png,image/webp"
        return attrs


class PuppyPhotoForm(forms.ModelForm):
    """One photo in the puppy's admin page: the file, its alt text and where it goes."""

    image = PhotoField(
        label="photo",
        help_text="A JPEG, PNG or WebP photo. Its location data is removed before publishing.",
    )
    move = forms.ChoiceField(
        label="order",
        required=False,
        choices=[("", _("Keep its place")), *Move.choices],
        help_text="Applied when you save. The first photo is the cover.",
    )

    class Meta:
        model = PuppyPhoto
        fields = ("image", "alt")


class PuppyPhotoFormSet(forms.BaseInlineFormSet):
    """Saves each new upload through `photo_process` (the file as uploaded is never stored),
    then applies the moves: new photos go last, the first one is the cover."""

    def save_new(self, form: forms.ModelForm, commit: bool = True) -> Any:
        photo = super().save_new(form, commit=False)
        last = self.instance.photos.order_by("-position").values_list("position", flat=True)
        photo.position = (last.first() or 0) + 1
        return self._publish(form, photo)

    def save_existing(self, form: forms.ModelForm, obj: Any, commit: bool = True) -> Any:
        return self._publish(form, super().save_existing(form, obj, commit=False))

    def delete_existing(self, obj: Any, commit: bool = True) -> None:
        if commit:
            photo_delete(photo=obj)

    def save(self, commit: bool = True) -> Any:
        saved = super().save(commit=commit)
        if commit:
            # A deleted photo's instance has lost its pk: its move is dropped with it.
            moves = [
                (form.instance.pk, form.cleaned_data["move"])
                for form in self.forms
                if form.instance.pk and form.cleaned_data.get("move")
            ]
            photos_arrange(puppy=self.instance, moves=moves)
        return saved

    @staticmethod
    def _publish(form: forms.ModelForm, photo: PuppyPhoto) -> PuppyPhoto:
        upload = form.cleaned_data.get("image")
        if isinstance(upload, UploadedFile):
            return photo_process(photo=photo, upload=upload)
        photo.save()
        return photo
