from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from kennel.catalogue.forms import PuppyPhotoForm, PuppyPhotoFormSet
from kennel.catalogue.models import Litter, Puppy, PuppyPhoto


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
    list_display = ("name", "breed", "sex", "litter", "born_on", "price", "deposit", "status")
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
