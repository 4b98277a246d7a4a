from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path, re_path

from kennel.api.routers import api
from kennel.catalogue.sitemaps import SITEMAPS
from kennel.catalogue.views import media_file, robots_txt

urlpatterns = [
    path("", include("kennel.catalogue.urls")),
    path("", include("kennel.reservations.urls")),
    path("", include("kennel.payments.urls")),
    path("", include("kennel.monitoring.urls")),
    path("api/", api.urls),
    # The language switch (POST, CSRF): Django's set_language, remembered in its cookie.
    path("i18n/", include("django.conf.urls.i18n")),
    path("robots.txt", robots_txt, name="robots"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("admin/", admin.site.urls),
    # Puppy photos are the breeder's own uploads; served by Django (a CDN can front it).
    re_path(r"^media/(?P<path>.*)$", media_file),
]

handler500 = "kennel.core.middleware.server_error"
