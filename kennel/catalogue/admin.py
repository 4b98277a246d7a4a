from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html

from kennel.catalogue import content
from kennel.catalogue.forms import PhotoField, PuppyPhotoForm, PuppyPhotoFormSet
from kennel.catalogue.models import Dog, DogPhoto, Litter, Page, Puppy, PuppyPhoto
from kennel.core.admin import (
    Confirmation,
    ConfirmRow,
    admin_change_url,
    changelist_url,
    confirm_page,
    confirmed,
    selected_rows,
    staff_actor,
)
from kennel.core.errors import ApplicationError
from kennel.core.money import format_money
from kennel.reservations import services as reservations


class PuppyInline(admin.TabularInline):
    model = Puppy
    fields = ("name", "breed", "sex", "price", "status")
    readonly_fields = ("name", "breed", "sex", "price", "status")
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Litter)
class LitterAdmin(admin.ModelAdmin):
    list_display = ("name", "dam", "sire", "born_on", "puppy_count")
    search_fields = ("name", "dam", "sire")
    date_hierarchy = "born_on"
    inlines = (PuppyInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Litter]:
        return super().get_queryset(request).prefetch_related("puppies")

    @admin.display(description="puppies")
    def puppy_count(self, litter: Litter) -> int:
        return len(litter.puppies.all())


class PuppyPhotoInline(admin.TabularInline):
    """Photos are published through kennel/catalogue/images.py (metadata removed, web sizes);
    their order is set with the "order" choice, no numbers to type (the first is the cover)."""

    model = PuppyPhoto
    form = PuppyPhotoForm
    formset = PuppyPhotoFormSet
    fields = ("preview", "place", "image", "alt", "move")
    readonly_fields = ("preview", "place")
    extra = 1

    @admin.display(description="preview")
    def preview(self, photo: PuppyPhoto) -> str:
        if not photo.image:
            return "—"
        # No style attribute: the admin's CSP refuses inline styles. The smallest variant,
        # at its own aspect ratio, so a portrait photo is not squashed.
        smallest = photo.variants[0] if photo.variants else None
        if smallest is None:
            return format_html('<img src="{}" alt="" width="120">', photo.image.url)
        height = round(120 * smallest["height"] / smallest["width"])
        return format_html(
            '<img src="{}" alt="" width="120" height="{}">',
            photo.image.storage.url(smallest["jpeg"]),
            height,
        )

    @admin.display(description="place")
    def place(self, photo: PuppyPhoto) -> str:
        if not photo.pk:
            return "last"
        order = list(
            PuppyPhoto.objects.filter(puppy_id=photo.puppy_id).values_list("pk", flat=True)
        )
        number = order.index(photo.pk) + 1
        return "1 (cover)" if number == 1 else str(number)


@admin.register(Puppy)
class PuppyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "breed",
        "sex",
        "litter",
        "born_on",
        "price_shown",
        "deposit_shown",
        "status",
        "is_published",
    )
    list_filter = ("breed", "sex", "status", "litter", "is_published")
    list_select_related = ("litter",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    # The status belongs to the reservation services: a hold, a payment or a refund moves it.
    readonly_fields = ("status", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "litter", "breed", "sex", "colour", "born_on")}),
        ("Sale", {"fields": ("price", "deposit", "currency", "status", "is_published")}),
        ("About", {"fields": ("description",)}),
        ("History", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )
    inlines = (PuppyPhotoInline,)
    actions = ["put_on_sale", "take_off_sale"]

    @admin.display(description="price", ordering="price")
    def price_shown(self, puppy: Puppy) -> str:
        return format_money(puppy.price, puppy.currency)

    @admin.display(description="deposit", ordering="deposit")
    def deposit_shown(self, puppy: Puppy) -> str:
        return format_money(puppy.deposit, puppy.currency)

    @admin.action(description="Put on sale (again)", permissions=["change"])
    def put_on_sale(
        self, request: HttpRequest, queryset: QuerySet[Puppy]
    ) -> TemplateResponse | None:
        return self._sale_action(request, queryset, on_sale=True)

    @admin.action(description="Take off sale", permissions=["change"])
    def take_off_sale(
        self, request: HttpRequest, queryset: QuerySet[Puppy]
    ) -> TemplateResponse | None:
        return self._sale_action(request, queryset, on_sale=False)

    def _sale_action(
        self, request: HttpRequest, queryset: QuerySet[Puppy], *, on_sale: bool
    ) -> TemplateResponse | None:
        """Each puppy through the reservation services (puppy_put_on_sale/take_off_sale),
        after a confirmation page; a puppy with an active hold or deposit keeps it."""
        puppies, more = selected_rows(queryset.order_by("name", "pk"))
        if not confirmed(request):
            return confirm_page(
                request, self, self._sale_confirmation(request, puppies, more, on_sale)
            )
        changed, refused = 0, []
        for puppy in queryset.order_by("pk"):
            try:
                service = (
                    reservations.puppy_put_on_sale if on_sale else reservations.puppy_take_off_sale
                )
                changed += service(puppy_id=puppy.pk, actor=staff_actor(request))
            except ApplicationError as exc:
                refused.append(f"{puppy.name}: {exc.message}")
        done = "on sale" if on_sale else "off sale"
        puppies_word = "puppy" if changed == 1 else "puppies"
        self.message_user(request, f"{changed} {puppies_word} now {done}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)
        return None

    def _sale_confirmation(
        self, request: HttpRequest, puppies: list[Puppy], more: int, on_sale: bool
    ) -> Confirmation:
        if on_sale:
            title = "Put on sale"
            consequences = [
                "Each puppy shows in the shop and can be reserved. A sold puppy (its sale fell "
                "through) becomes available again.",
                "A puppy held or reserved by a family stays theirs: release the hold or refund "
                "the deposit first.",
            ]
        else:
            title = "Take off sale"
            consequences = [
                "Each puppy disappears from the shop: its page and the catalogue. A hold or "
                "deposit on it stands.",
            ]
        rows = [
            ConfirmRow(
                label=puppy.name,
                url=admin_change_url(puppy),
                details=(
                    f"{puppy.get_status_display()}, "
                    f"{'in the shop' if puppy.is_published else 'not in the shop'}",
                ),
            )
            for puppy in puppies
        ]
        return Confirmation(
            title=title,
            consequences=consequences,
            rows=rows,
            confirm_label=f"Yes, {title.lower()}",
            cancel_url=changelist_url(self, request),
            action="put_on_sale" if on_sale else "take_off_sale",
            selected=[p.pk for p in puppies],
            more=more,
        )


# --- The breeder's pages and the parents (kennel/catalogue/content.py) ---


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "version", "updated_at", "view_on_site_link")
    readonly_fields = ("updated_at",)
    fields = ("kind", "title", "body", "version", "updated_at")

    @admin.display(description="page")
    def view_on_site_link(self, page: Page) -> str:
        return format_html('<a href="{}">{}</a>', page.get_absolute_url(), page.get_absolute_url())


class DogPhotoForm(forms.ModelForm):
    image = PhotoField(
        label="photo",
        help_text="A JPEG, PNG or WebP photo. Its location data is removed before publishing.",
    )

    class Meta:
        model = DogPhoto
        fields = ("image", "alt", "position")


class DogPhotoFormSet(forms.BaseInlineFormSet):
    """Each new or replaced upload goes through the puppy photos' pipeline (web sizes, no
    metadata): the file as uploaded is never stored."""

    def save_new(self, form: forms.ModelForm, commit: bool = True) -> Any:
        return self._publish(form, super().save_new(form, commit=False))

    def save_existing(self, form: forms.ModelForm, obj: Any, commit: bool = True) -> Any:
        return self._publish(form, super().save_existing(form, obj, commit=False))

    @staticmethod
    def _publish(form: forms.ModelForm, photo: DogPhoto) -> DogPhoto:
        upload = form.cleaned_data.get("image")
        if isinstance(upload, UploadedFile):
            return content.parent_photo_process(photo=photo, upload=upload)
        photo.save()
        return photo


class DogPhotoInline(admin.TabularInline):
    model = DogPhoto
    form = DogPhotoForm
    formset = DogPhotoFormSet
    fields = ("preview", "image", "alt", "position")
    readonly_fields = ("preview",)
    extra = 1

    @admin.display(description="preview")
    def preview(self, photo: DogPhoto) -> str:
        if not photo.variants:
            return "—"
        smallest = photo.variants[0]
        return format_html(
            '<img src="{}" alt="" width="120" height="{}">',
            photo.image.storage.url(smallest["jpeg"]),
            round(120 * smallest["height"] / smallest["width"]),
        )


@admin.register(Dog)
class DogAdmin(admin.ModelAdmin):
    list_display = ("name", "sex", "breed", "born_on", "position", "is_published")
    list_filter = ("sex", "breed", "is_published")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fields = (
        "name",
        "slug",
        "sex",
        "breed",
        "born_on",
        "description",
        "health_tests",
        "position",
        "is_published",
    )
    inlines = (DogPhotoInline,)
