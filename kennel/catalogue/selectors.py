"""Reads of the catalogue that the pages (and the API) share."""

from collections.abc import Mapping
from typing import Any

from django.db.models import Case, Count, IntegerField, Prefetch, QuerySet, Value, When, Window

from kennel.catalogue.models import Puppy, PuppyPhoto

AVAILABLE_ONLY = "available"

# Buyers look for the puppies they can still reserve: those come first, sold ones last.
_STATUS_RANK = Case(
    *(When(status=status, then=Value(rank)) for rank, status in enumerate(Puppy.Status.values)),
    default=Value(len(Puppy.Status.values)),
    output_field=IntegerField(),
)


def _with_photos(queryset: QuerySet[Puppy]) -> QuerySet[Puppy]:
    # One query for the litters (join) and one for every photo: constant, however many puppies.
    return queryset.select_related("litter").prefetch_related(
        Prefetch("photos", queryset=PuppyPhoto.objects.order_by("position", "id"))
    )


# What a caller above adds to each puppy read here, in the same query (the waiting list's
# `family_choosing`: reservations/waitlist.py, which this layer does not import).
Annotations = Mapping[str, Any]
FAMILY_CHOOSING = "family_choosing"


def puppy_list(
    *, breed: str = "", sex: str = "", status: str = "", annotate: Annotations | None = None
) -> QuerySet[Puppy]:
    """Published puppies, available ones first, then by youngest litter; optionally filtered.

    `breed` matches exactly; `sex` is a Puppy.Sex value; `status="available"` keeps only the
    puppies that can be reserved now (not one annotated `family_choosing`: the waiting list's
    turn comes first), anything else lists them all.
    """
    queryset = Puppy.objects.filter(is_published=True).annotate(**(annotate or {}))
    if breed:
        queryset = queryset.filter(breed=breed)
    if sex:
        queryset = queryset.filter(sex=sex)
    if status == AVAILABLE_ONLY:
        queryset = queryset.filter(status=Puppy.Status.AVAILABLE)
        if FAMILY_CHOOSING in queryset.query.annotations:
            queryset = queryset.filter(**{FAMILY_CHOOSING: False})
    return _with_photos(queryset.order_by(_STATUS_RANK, "-born_on", "name", "pk"))


def puppy_page(
    *,
    number: int,
    per_page: int,
    breed: str = "",
    sex: str = "",
    status: str = "",
    annotate: Annotations | None = None,
) -> tuple[list[Puppy], int]:
    """Page `number` (from 1) of `puppy_list` and the count of the whole list, in one query
    (the count rides along as a window). An empty page past the first counts 0: it is no page.
    """
    listed = puppy_list(breed=breed, sex=sex, status=status, annotate=annotate)
    queryset = listed.annotate(listed=Window(Count("pk")))
    start = (number - 1) * per_page
    puppies: list[Puppy] = list(queryset[start : start + per_page])
    return puppies, (int(getattr(puppies[0], "listed")) if puppies else 0)  # noqa: B009


def breed_list() -> list[str]:
    """Breeds of the published puppies, for the catalogue's filter."""
    return list(
        Puppy.objects.filter(is_published=True)
        .order_by("breed")
        .values_list("breed", flat=True)
        .distinct()
    )


def puppy_by_slug(slug: str, *, annotate: Annotations | None = None) -> Puppy | None:
    """A published puppy with its litter, the litter's parents and photos, or None."""
    puppies = Puppy.objects.filter(slug=slug, is_published=True).annotate(**(annotate or {}))
    return _with_photos(puppies).select_related("litter__dam_dog", "litter__sire_dog").first()
