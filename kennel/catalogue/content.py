"""The breeder's own pages (about, parents, FAQ, terms, privacy, imprint): reading them,
rendering their Markdown safely, and publishing the parents' photos.

Markdown is rendered by markdown-it-py with raw HTML off: a `<script>` or an `onerror=` the
breeder (or whoever has their password) types comes out as text, and links to `javascript:`
or `data:` are refused by the renderer's own link check. Nothing typed is ever trusted as HTML.
"""

from dataclasses import dataclass
from typing import IO

from django.db.models import Prefetch, Q
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

from kennel.catalogue import images
from kennel.catalogue.models import Dog, DogPhoto, Litter, Page, Puppy

# CommonMark plus tables and strikethrough; "html": False escapes every tag typed.
# `breaks`: a line break the breeder types (an address, opening hours) stays a line break.
_MARKDOWN = MarkdownIt(
    "js-default", {"html": False, "linkify": False, "typographer": False, "breaks": True}
)


def markdown_render(text: str) -> SafeString:
    """The breeder's Markdown (or plain text) as HTML that can run nothing."""
    return mark_safe(_MARKDOWN.render(text or ""))  # noqa: S308 - html is off: tags are escaped


def page_get(kind: str) -> Page | None:
    return Page.objects.filter(kind=kind).first()


def terms_version_current() -> str:
    """The deposit terms' version a buyer accepts now: the label the breeder sets, or the
    date they last changed it; "" while the shop has no terms page."""
    page = Page.objects.filter(kind=Page.Kind.TERMS).only("version", "updated_at").first()
    if page is None:
        return ""
    return page.version or page.updated_at.strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Parent:
    dog: Dog
    photos: list[DogPhoto]
    litters: list[Litter]


def parent_list() -> list[Parent]:
    """The published parents in the breeder's order, with their photos and their litters
    (linked to them, or naming them as mother or father)."""
    dogs = list(Dog.objects.filter(is_published=True).prefetch_related("photos"))
    parents = []
    for dog in dogs:
        litters = Litter.objects.filter(
            Q(dam_dog=dog) | Q(sire_dog=dog) | Q(dam=dog.name) | Q(sire=dog.name)
        ).prefetch_related(Prefetch("puppies", queryset=Puppy.objects.filter(is_published=True)))
        parents.append(Parent(dog=dog, photos=list(dog.photos.all()), litters=list(litters)))
    return parents


def parent_photo_process(*, photo: DogPhoto, upload: IO[bytes], key: str = "") -> DogPhoto:
    """Publish `upload` as a parent's photo: the puppy photos' pipeline (images.py: metadata
    stripped, upright, web sizes in WebP and JPEG), stored under parents/<key>/. A fixed `key`
    (the demo's) overwrites the files already there."""
    return images.photo_process(photo=photo, upload=upload, key=key)
