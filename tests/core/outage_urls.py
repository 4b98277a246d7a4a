"""The shop's URLs plus one page that meets a lost database (for the 503 page's headers)."""

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import path

from kennel.urls import urlpatterns as shop_urls


def lost_database(request: HttpRequest) -> HttpResponse:
    raise OperationalError("connection refused")


urlpatterns = [path("outage/", lost_database), *shop_urls]
