from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timesince import timeuntil
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from kennel.catalogue import content
from kennel.catalogue.forms import PhotoField, PuppyPhotoForm, PuppyPhotoFormSet
from kennel.catalogue.images import photo_delete, uploads_prepare, with_photos_delete
from kennel.catalogue.models import Dog, DogPhoto, Litter, Page, Puppy, PuppyPhoto
from kennel.core.admin import (
    Confirmation,
    ConfirmRow,
    Text,
    admin_change_url,
    changelist_url,
    confirm_page,
    confirmed,
    selected_rows,
    staff_actor,
)
from kennel.core.errors import ApplicationError, message_translated
from kennel.core.money import format_money
from kennel.reservations import picking, waitlist
from kennel.reservations import services as reservations
from kennel.reservations.admin.waitlist import WaitlistInline
from kennel.reservations.models import PickTurn, WaitlistEntry

# The litter and puppy forms' refusals, in the reader's language (as Django's own admin texts).
BORN_ON_MISSING = _("When was the litter born? Its puppies' ages count from it.")
PUPPY_CURRENCY_NOT_THE_LISTS = _(
    "The families on the waiting list of %(litter)s paid their deposits in %(currency)s: "
    "price its puppies in %(currency)s, or none of them can choose this one."
)
LITTER_CURRENCY_OF_THE_LIST = _(
    "The families on this waiting list paid their deposits in %(currency)s: the litter's "
    "currency stays %(currency)s while they are on it."
)


TERMS_VERSION_UNCHANGED = _(
    "You changed the terms: give them a new version (not %(version)s), so that each "
    "reservation keeps the version its buyer accepted."
)


def _other_list_currencies(litter: Litter | None, currency: str | None) -> str:
    """The currencies of the deposits on `litter`'s list other than `currency` ("" if none):
    a family's deposit becomes its puppy's, so the two must be in one currency."""
    if litter is None or litter.pk is None or not currency:
        return ""
    paid = waitlist.list_deposit_currencies(litter_id=litter.pk)
    return ", ".join(sorted(paid - {currency.strip().upper()}))


class PuppyInline(admin.TabularInline):
    model = Puppy
    fields = ("name", "breed", "sex", "price", "status", "kept", "is_published")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class LitterForm(forms.ModelForm):
    class Meta:
        model = Litter
        # The admin gives the form its fieldsets' fields; these are the ones clean() reads.
        fields = ("stage", "born_on")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        born = data.get("stage") in (Litter.Stage.BORN, Litter.Stage.READY)
        if born and not data.get("born_on"):
            self.add_error("born_on", BORN_ON_MISSING)
        if paid := _other_list_currencies(self.instance, data.get("currency")):
            error = forms.ValidationError(LITTER_CURRENCY_OF_THE_LIST, params={"currency": paid})
            self.add_error("currency", error)
        return data


class PuppyForm(forms.ModelForm):
    class Meta:
        model = Puppy
        # The admin gives the form its fieldsets' fields; these are the ones clean() reads.
        fields = ("litter", "currency")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        litter = data.get("litter")
        if paid := _other_list_currencies(litter, data.get("currency")):
            params = {"litter": litter.name if litter else "", "currency": paid}
            self.add_error(
                "currency", forms.ValidationError(PUPPY_CURRENCY_NOT_THE_LISTS, params=params)
            )
        return data


@admin.register(Litter)
class LitterAdmin(admin.ModelAdmin):
    """A litter, its waiting list and its pick order. The list's state (who is where, whose
    turn it is, whether picking is open) changes only through kennel/reservations/waitlist.py:
    the actions below and a change of stage call it; the form edits the rest."""

    form = LitterForm
    list_display = (
        "name",
        "stage",
        "born_on",
        "go_home_on",
        "waitlist_open",
        "families_waiting",
        "picking",
        "puppy_count",
    )
    list_filter = ("stage", "waitlist_open", "picking")
    search_fields = ("name", "slug", "dam", "sire")
    date_hierarchy = "born_on"
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("picking", "now_choosing")
    fieldsets = (
        (None, {"fields": ("name", "slug", "dam", "sire", "dam_dog", "sire_dog", "description")}),
        (
            _("Stage & dates"),
            {
                "fields": ("stage", "expected_on", "born_on", "go_home_on"),
                "description": _(
                    "When the stage becomes “born”, every family on the waiting list is told "
                    "by email."
                ),
            },
        ),
        (
            _("Waiting list"),
            {
                "fields": (
                    "waitlist_open",
                    "waitlist_deposit",
                    "usual_price",
                    "currency",
                    "waitlist_cap",
                    "deposit_terms",
                    "refund_days",
                    "pick_window_minutes",
                )
            },
        ),
        (
            _("Picking"),
            {
                "fields": ("picking", "now_choosing"),
                "description": _(
                    "Opened, skipped and closed with the actions of the litters' list; "
                    "families choose on their own page, in position order."
                ),
            },
        ),
    )
    inlines = (WaitlistInline, PuppyInline)
    actions = ["open_picking", "skip_turn", "close_picking"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Litter]:
        on_list = Q(waitlist__status__in=WaitlistEntry.ON_LIST)
        return (
            super()
            .get_queryset(request)
            .prefetch_related("puppies")
            .annotate(waiting=Count("waitlist", filter=on_list, distinct=True))
        )

    @admin.display(description=_("puppies"))
    def puppy_count(self, litter: Litter) -> int:
        return len(litter.puppies.all())

    @admin.display(description=_("families on the list"), ordering="waiting")
    def families_waiting(self, litter: Litter) -> int:
        return getattr(litter, "waiting", 0)

    @admin.display(description=_("choosing now"))
    def now_choosing(self, litter: Litter) -> str:
        turn = _open_turn(litter) if litter.pk else None
        if turn is None:
            return "—"
        return _turn_words(turn)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {
            "currency": settings.DEFAULT_CURRENCY,
            **super().get_changeform_initial_data(request),
        }

    def save_model(self, request: HttpRequest, obj: Litter, form: Any, change: bool) -> None:
        """A new litter is saved as it is (nobody waits for it yet). An existing one saves
        the fields the form changed, but not its stage: a new stage goes through
        waitlist.litter_stage_set, which tells the families when the litter is born; and
        never `picking`, which only waitlist.py writes."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        stage, born_on = obj.stage, obj.born_on
        fields = [f for f in form.changed_data if f not in ("stage", "picking")]
        if "go_home_on" in fields:
            waitlist.refund_cutoffs_keep(litter_id=obj.pk)  # as told, before the new day
        if fields:
            obj.save(update_fields=[*fields, "updated_at"])
        if "stage" in form.changed_data:
            waitlist.litter_stage_set(
                litter_id=obj.pk, stage=stage, born_on=born_on, actor=staff_actor(request)
            )
            obj.refresh_from_db()

    # --- picking: each action calls its service; a refusal is a warning, never a 500 ---

    @admin.action(description=_("Open picking (family 1 chooses first)"), permissions=["picking"])
    def open_picking(
        self, request: HttpRequest, queryset: QuerySet[Litter]
    ) -> TemplateResponse | None:
        return self._picking_action(request, queryset, OPEN_PICKING)

    @admin.action(description=_("Skip the family choosing now"), permissions=["picking"])
    def skip_turn(
        self, request: HttpRequest, queryset: QuerySet[Litter]
    ) -> TemplateResponse | None:
        return self._picking_action(request, queryset, SKIP_TURN)

    @admin.action(description=_("Close picking"), permissions=["picking"])
    def close_picking(
        self, request: HttpRequest, queryset: QuerySet[Litter]
    ) -> TemplateResponse | None:
        return self._picking_action(request, queryset, CLOSE_PICKING)

    def has_picking_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("catalogue.change_litter")

    def _picking_action(
        self, request: HttpRequest, queryset: QuerySet[Litter], action: "PickingAction"
    ) -> TemplateResponse | None:
        litters, more = selected_rows(queryset.order_by("name", "pk"))
        if not confirmed(request):
            rows = [
                ConfirmRow(label=litter.name, url=admin_change_url(litter), details=_now(litter))
                for litter in litters
            ]
            page = Confirmation(
                title=action.title,
                consequences=action.consequences,
                rows=rows,
                confirm_label=action.confirm,
                cancel_url=changelist_url(self, request),
                action=action.name,
                selected=[litter.pk for litter in litters],
                more=more,
            )
            return confirm_page(request, self, page)
        actor = staff_actor(request)
        for litter in litters:
            try:
                level, text = action.do(litter, actor)
            except ApplicationError as exc:
                level, text = messages.WARNING, message_translated(exc.message)
            self.message_user(request, LITTER_SAYS % {"litter": litter.name, "text": text}, level)
        return None


@dataclass(frozen=True)
class PickingAction:
    name: str
    title: Text
    consequences: list[Text]
    confirm: Text
    do: Callable[[Litter, str], tuple[int, str]]


# What a picking action did or why it did nothing, after the litter's name (LITTER_SAYS),
# in the reader's language.
LITTER_SAYS = _("%(litter)s: %(text)s")
PICKING_NOT_OPEN = _("picking is not open: nothing changed.")
NOBODY_TO_CHOOSE = _(
    "nobody could be offered a puppy (no family waiting, or nothing left that matches their "
    "wishes): picking is closed."
)
NOBODY_CHOOSING = _("nobody is choosing now: nothing changed.")
TURN_WORDS = _("%(family)s (#%(position)s) until %(ends)s (in %(left)s)")
PICKING_NOW = _("Picking: %(picking)s; %(families)s on the list.")
CHOOSING_NOW = _("Choosing now: %(turn)s.")
PICKING_OPENED = _("picking open — %(turn)s.")
SKIPPED_LAST = _("family skipped; nobody else could be offered a puppy.")
SKIPPED = _("family skipped — now %(turn)s.")
PICKING_CLOSED = _("picking closed; the family choosing keeps its place on the list.")


def _open_turn(litter: Litter) -> PickTurn | None:
    return (
        PickTurn.objects.filter(litter=litter, outcome=PickTurn.Outcome.OPEN)
        .select_related("entry__reservation")
        .first()
    )


def _turn_words(turn: PickTurn) -> str:
    entry = turn.entry
    return TURN_WORDS % {
        "family": entry.reservation.buyer_name,
        "position": entry.position,
        "ends": date_format(timezone.localtime(turn.ends_at), "j N Y, H:i"),
        "left": timeuntil(turn.ends_at),
    }


def _now(litter: Litter) -> tuple[str, ...]:
    turn = _open_turn(litter)
    waiting = litter.waitlist.filter(status__in=WaitlistEntry.ON_LIST).count()
    families = ngettext("%(count)s family", "%(count)s families", waiting) % {"count": waiting}
    lines = [PICKING_NOW % {"picking": litter.get_picking_display().lower(), "families": families}]
    if turn is not None:
        lines.append(CHOOSING_NOW % {"turn": _turn_words(turn)})
    return tuple(lines)


def _open(litter: Litter, actor: str) -> tuple[int, str]:
    turn = picking.picking_open(litter_id=litter.pk, actor=actor)
    if turn is None:
        return messages.WARNING, str(NOBODY_TO_CHOOSE)
    return messages.SUCCESS, PICKING_OPENED % {"turn": _turn_words(turn)}


def _skip(litter: Litter, actor: str) -> tuple[int, str]:
    if not picking.waitlist_skip(litter_id=litter.pk, actor=actor):
        return messages.WARNING, str(NOBODY_CHOOSING)
    turn = _open_turn(litter)
    if turn is None:
        return messages.SUCCESS, str(SKIPPED_LAST)
    return messages.SUCCESS, SKIPPED % {"turn": _turn_words(turn)}


def _close(litter: Litter, actor: str) -> tuple[int, str]:
    if not picking.picking_close(litter_id=litter.pk, actor=actor):
        return messages.WARNING, str(PICKING_NOT_OPEN)
    return messages.SUCCESS, str(PICKING_CLOSED)


OPEN_PICKING = PickingAction(
    name="open_picking",
    title=_("Open picking"),
    consequences=[
        _("The waiting list closes to new families."),
        _(
            "The first family in position order whose wishes a puppy matches gets its turn at "
            "once and is told by email; the next family's turn opens when it picks or passes, "
            "or when its time runs out."
        ),
        _("Puppies marked “kept by the breeder” and puppies not available are not offered."),
    ],
    confirm=_("Yes, open picking"),
    do=_open,
)
SKIP_TURN = PickingAction(
    name="skip_turn",
    title=_("Skip the family choosing now"),
    consequences=[
        _(
            "The family choosing now loses its turn (it keeps its deposit, per its terms) and "
            "is told by email; the next family's turn opens at once."
        ),
    ],
    confirm=_("Yes, skip them"),
    do=_skip,
)
CLOSE_PICKING = PickingAction(
    name="close_picking",
    title=_("Close picking"),
    consequences=[
        _("The turn open now ends; that family goes back to waiting, its deposit kept."),
        _("No other family is offered a turn."),
    ],
    confirm=_("Yes, close picking"),
    do=_close,
)


class PuppyPhotoInline(admin.TabularInline):
    """Photos are published through kennel/catalogue/images.py (metadata removed, web sizes);
    their order is set with the "order" choice, no numbers to type (the first is the cover)."""

    model = PuppyPhoto
    form = PuppyPhotoForm
    formset = PuppyPhotoFormSet
    fields = ("preview", "place", "image", "alt", "move")
    readonly_fields = ("preview", "place")
    extra = 1

    @admin.display(description=_("preview"))
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

    @admin.display(description=_("place"))
    def place(self, photo: PuppyPhoto) -> str:
        if not photo.pk:
            return "last"
        order = list(
            PuppyPhoto.objects.filter(puppy_id=photo.puppy_id).values_list("pk", flat=True)
        )
        number = order.index(photo.pk) + 1
        return "1 (cover)" if number == 1 else str(number)


class PhotosAdmin(admin.ModelAdmin):
    """A page whose form uploads photos: they are decoded and resized (images.py,
    `uploads_prepare`) before the admin opens the save's transaction, which then only writes.
    Inside it, a 49-megapixel photo held the transaction's locks for seconds — on SQLite the
    database's write lock, so a buyer's hold waited behind the breeder's upload."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST":
            uploads_prepare(request.FILES)
        return super().changeform_view(request, object_id, form_url, extra_context)


@admin.register(Puppy)
class PuppyAdmin(PhotosAdmin):
    form = PuppyForm
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
        "kept",
    )
    list_filter = ("breed", "sex", "status", "litter", "is_published", "kept")
    list_select_related = ("litter",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    # The status belongs to the reservation services: a hold, a payment or a refund moves it.
    readonly_fields = ("status", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "litter", "breed", "sex", "colour", "born_on")}),
        (
            _("Sale"),
            {"fields": ("price", "deposit", "currency", "status", "is_published", "kept")},
        ),
        (_("About"), {"fields": ("description",)}),
        (_("History"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )
    inlines = (PuppyPhotoInline,)
    actions = ["put_on_sale", "take_off_sale"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {
            "currency": settings.DEFAULT_CURRENCY,
            **super().get_changeform_initial_data(request),
        }

    def delete_model(self, request: HttpRequest, obj: Puppy) -> None:
        with_photos_delete(Puppy.objects.filter(pk=obj.pk))  # and its photos' files

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Puppy]) -> None:
        with_photos_delete(queryset)

    def save_model(self, request: HttpRequest, obj: Puppy, form: Any, change: bool) -> None:
        """A new puppy is saved as it is. An existing one saves only the fields the form
        changed (its amounts together, as save() rounds them to the currency): never the
        status, which a hold, a payment or a release may have changed since this page read
        the puppy — written back, it would strand the puppy held or refuse the save (tried)."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        fields = {f for f in form.changed_data if f != "status"}
        if fields & {"price", "deposit", "currency"}:
            fields |= {"price", "deposit", "currency"}
        if fields:
            obj.save(update_fields=[*sorted(fields), "updated_at"])

    @admin.display(description=_("price"), ordering="price")
    def price_shown(self, puppy: Puppy) -> str:
        return format_money(puppy.price, puppy.currency)

    @admin.display(description=_("deposit"), ordering="deposit")
    def deposit_shown(self, puppy: Puppy) -> str:
        return format_money(puppy.deposit, puppy.currency)

    @admin.action(description=_("Put on sale (again)"), permissions=["change"])
    def put_on_sale(
        self, request: HttpRequest, queryset: QuerySet[Puppy]
    ) -> TemplateResponse | None:
        return self._sale_action(request, queryset, on_sale=True)

    @admin.action(description=_("Take off sale"), permissions=["change"])
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
                refused.append(f"{puppy.name}: {message_translated(exc.message)}")
        if on_sale:
            done = ngettext(
                "%(count)s puppy now on sale.", "%(count)s puppies now on sale.", changed
            )
        else:
            done = ngettext(
                "%(count)s puppy now off sale.", "%(count)s puppies now off sale.", changed
            )
        self.message_user(request, done % {"count": changed}, messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)
        return None

    def _sale_confirmation(
        self, request: HttpRequest, puppies: list[Puppy], more: int, on_sale: bool
    ) -> Confirmation:
        if on_sale:
            title, confirm = gettext("Put on sale"), gettext("Yes, put on sale")
            consequences = [
                gettext(
                    "Each puppy shows in the shop and can be reserved. A sold puppy whose sale "
                    "was refunded becomes available again."
                ),
                gettext(
                    "A puppy held or reserved by a family stays theirs: release the hold or "
                    "refund the deposit first."
                ),
                gettext(
                    "A puppy that went home with its family (picked up) stays sold. If it came "
                    "back, refund that reservation first (Refund deposit)."
                ),
            ]
        else:
            title, confirm = gettext("Take off sale"), gettext("Yes, take off sale")
            consequences = [
                gettext(
                    "Each puppy disappears from the shop: its page and the catalogue. A hold or "
                    "deposit on it stands."
                ),
            ]
        rows = [
            ConfirmRow(
                label=puppy.name,
                url=admin_change_url(puppy),
                details=(
                    f"{puppy.get_status_display()}, "
                    + (
                        gettext("in the shop") if puppy.is_published else gettext("not in the shop")
                    ),
                ),
            )
            for puppy in puppies
        ]
        return Confirmation(
            title=title,
            consequences=consequences,
            rows=rows,
            confirm_label=confirm,
            cancel_url=changelist_url(self, request),
            action="put_on_sale" if on_sale else "take_off_sale",
            selected=[p.pk for p in puppies],
            more=more,
        )


# --- The breeder's pages and the parents (kennel/catalogue/content.py) ---


def _text(body: str) -> str:
    """A page's text as its reader sees it: a browser sends CRLF line ends, the demo LF."""
    return "\n".join(line.rstrip() for line in (body or "").strip().splitlines())


class PageForm(forms.ModelForm):
    class Meta:
        model = Page
        fields = ("kind", "body", "version")

    def clean(self) -> dict[str, Any]:
        """Terms reworded under the version they had are refused: a reservation keeps only
        the version's label, which must tell the old words from the new."""
        data = super().clean() or {}
        before = self.instance
        if (
            before.pk is not None
            and before.kind == Page.Kind.TERMS
            and before.version
            and (data.get("version") or "").strip() == before.version
            and _text(data.get("body") or "") != _text(before.body)
        ):
            error = forms.ValidationError(
                TERMS_VERSION_UNCHANGED, params={"version": before.version}
            )
            self.add_error("version", error)
        return data


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    form = PageForm
    list_display = ("title", "kind", "version", "updated_at", "view_on_site_link")
    readonly_fields = ("updated_at",)
    fields = ("kind", "title", "body", "version", "updated_at")

    @admin.display(description=_("page"))
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

    def delete_existing(self, obj: Any, commit: bool = True) -> None:
        if commit:
            photo_delete(photo=obj)  # and its files: a deleted photo stops being served

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

    @admin.display(description=_("preview"))
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
class DogAdmin(PhotosAdmin):
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

    def delete_model(self, request: HttpRequest, obj: Dog) -> None:
        with_photos_delete(Dog.objects.filter(pk=obj.pk))  # and its photos' files

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Dog]) -> None:
        with_photos_delete(queryset)
