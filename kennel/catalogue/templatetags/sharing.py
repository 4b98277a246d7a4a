"""What a page tells search engines and the apps a link is shared in: its canonical address,
Open Graph and Twitter card tags, and schema.org Product/Offer data for a puppy."""

import json
from typing import Any

from django import template
from django.conf import settings
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext

from kennel.catalogue.forms import CatalogueFilterForm
from kennel.catalogue.models import Puppy, PuppyPhoto
from kennel.core.money import quantize

register = template.Library()

# schema.org ItemAvailability for each puppy status.
AVAILABILITY = {
    Puppy.Status.AVAILABLE: "https://schema.org/InStock",
    Puppy.Status.HELD: "https://schema.org/Reserved",
    Puppy.Status.RESERVED: "https://schema.org/Reserved",
    Puppy.Status.SOLD: "https://schema.org/SoldOut",
}
# The namespaces whose pages are public (robots may index them); others get no canonical.
PUBLIC_NAMESPACES = {"catalogue"}


def absolute(path: str) -> str:
    """`path` on the shop's public address (SITE_URL), never on the Host a request named."""
    return settings.SITE_URL.rstrip("/") + path


@register.simple_tag(takes_context=True)
def canonical_url(context: template.Context) -> str:
    """The public page's own address without its query string (but with `?page=N` past the
    catalogue's first page, each page its own; a filtered view of any page names the whole
    catalogue); "" for a non-public page."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    if request is None or match is None or match.namespace not in PUBLIC_NAMESPACES:
        return ""
    page = request.GET.get("page", "")
    filtered = any(request.GET.get(name) for name in CatalogueFilterForm.FIELDS)
    if page.isdigit() and int(page) > 1 and not filtered:
        return absolute(f"{request.path}?page={int(page)}")
    return absolute(request.path)


def share_image(photos: list[PuppyPhoto]) -> dict[str, Any] | None:
    """The cover photo as the platforms take it: a JPEG of at most 1600 px (the largest
    variant; WhatsApp, Facebook and X refuse WebP or files over a few MB)."""
    if not photos:
        return None
    cover = photos[0]
    if cover.variants:
        largest = cover.variants[-1]
        url = cover.image.storage.url(largest["jpeg"])
        return {
            "url": absolute(url) if url.startswith("/") else url,
            "width": largest["width"],
            "height": largest["height"],
            "alt": cover.alt,
        }
    if cover.image:
        url = cover.image.url
        return {"url": absolute(url) if url.startswith("/") else url, "alt": cover.alt}
    return None


def puppy_summary(puppy: Puppy) -> str:
    if puppy.description:
        return Truncator(" ".join(puppy.description.split())).chars(200)
    return puppy_facts(puppy)


@register.filter
def puppy_facts(puppy: Puppy) -> str:
    """The puppy in one sentence in the active language ("Rosie: female Golden Retriever
    puppy, born on 6 October 2026."):
    the share preview's summary and the puppy page's description (with its status)."""
    return gettext("%(name)s: %(sex)s %(breed)s puppy, born on %(born)s.") % {
        "name": puppy.name,
        "sex": str(puppy.get_sex_display()).lower(),
        "breed": puppy.breed,
        "born": date_format(puppy.born_on, "j F Y"),
    }


def price_data(puppy: Puppy) -> str:
    """The price as structured data writes it: the currency's own places, as the page shows
    it (350000 JPY, 1500.00 EUR), never the database column's two."""
    return str(quantize(puppy.price, puppy.currency))


def puppy_jsonld(puppy: Puppy, image: dict[str, Any] | None) -> dict[str, Any]:
    url = absolute(puppy.get_absolute_url())
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": f"{puppy.name}, {puppy.breed} puppy",
        "description": puppy_summary(puppy),
        "url": url,
        "category": puppy.breed,
        "offers": {
            "@type": "Offer",
            "price": price_data(puppy),
            "priceCurrency": puppy.currency,
            "availability": AVAILABILITY[Puppy.Status(puppy.status)],
            "url": url,
        },
    }
    if puppy.colour:
        data["color"] = puppy.colour
    if image:
        data["image"] = [image["url"]]
    return data


def json_for_script(data: dict[str, Any]) -> str:
    # Inside <script> only "</script" or "<!--" could end it early: no "<", ">" or "&" at all.
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@register.inclusion_tag("pages/_puppy_share.html", takes_context=True)
def puppy_share(context: template.Context, puppy: Puppy, photos: list[PuppyPhoto]) -> dict:
    """Canonical, Open Graph, Twitter card and JSON-LD tags for a puppy's page."""
    image = share_image(photos)
    return {
        "puppy": puppy,
        "price": price_data(puppy),
        "shop_name": context.get("shop_name", ""),
        "url": absolute(puppy.get_absolute_url()),
        "title": f"{puppy.name}, {puppy.breed} · {context.get('shop_name', '')}",
        "description": puppy_summary(puppy),
        "image": image,
        # JSON-LD is data, not script: the CSP (script-src 'self') has nothing to run here.
        "jsonld": format_html(
            '<script type="application/ld+json">{}</script>',
            SafeString(json_for_script(puppy_jsonld(puppy, image))),
        ),
    }
