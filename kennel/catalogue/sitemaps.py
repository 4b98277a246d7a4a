"""What search engines may index: the catalogue and every published puppy's page."""

from datetime import datetime

from django.contrib.sitemaps import Sitemap
from django.db.models import QuerySet
from django.urls import reverse

from kennel.catalogue.models import Puppy


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


SITEMAPS = {"catalogue": CatalogueSitemap, "puppies": PuppySitemap}
