"""What search engines may index: the catalogue, every published puppy's page, the litters
and the breeder's own pages (about, parents, FAQ, terms, privacy, imprint)."""

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap as DjangoSitemap
from django.db.models import QuerySet
from django.urls import reverse

from kennel.catalogue.models import Dog, Litter, Page, Puppy


class Sitemap(DjangoSitemap):
    """Addresses on the shop's public address (SITE_URL), as its canonical links are, never
    on the Host a request named."""

    def get_protocol(self, protocol: str | None = None) -> str:
        return urlsplit(settings.SITE_URL).scheme or "https"

    def get_domain(self, site: Any = None) -> str:
        return urlsplit(settings.SITE_URL).netloc


class CatalogueSitemap(Sitemap):
    changefreq = "daily"
    priority = 1.0

    def items(self) -> list[str]:
        return ["catalogue:index"]

    def location(self, item: str) -> str:
        return reverse(item)


class PuppySitemap(Sitemap):
    changefreq = "daily"
    priority = 0.8

    def items(self) -> QuerySet[Puppy]:
        return Puppy.objects.filter(is_published=True).order_by("pk")

    def lastmod(self, item: Puppy) -> datetime:
        return item.updated_at


class LitterSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.6

    def items(self) -> list[str | Litter]:
        return ["catalogue:litters", *Litter.objects.order_by("pk")]

    def location(self, item: str | Litter) -> str:
        return reverse(item) if isinstance(item, str) else item.get_absolute_url()


class PageSitemap(Sitemap):
    changefreq = "monthly"
    priority = 0.5

    def items(self) -> list[Page]:
        pages = list(Page.objects.order_by("kind"))
        if not any(p.kind == Page.Kind.PARENTS for p in pages) and Dog.objects.exists():
            # The parents page shows the parents even without an introduction written.
            pages.append(Page(kind=Page.Kind.PARENTS))
        return pages

    def lastmod(self, item: Page) -> datetime | None:
        return item.updated_at if item.pk else None


SITEMAPS = {
    "catalogue": CatalogueSitemap,
    "puppies": PuppySitemap,
    "litters": LitterSitemap,
    "pages": PageSitemap,
}
