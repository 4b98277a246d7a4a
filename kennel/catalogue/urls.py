from django.urls import path

from kennel.catalogue import pages, views
from kennel.catalogue.models import Page

app_name = "catalogue"
urlpatterns = [
    path("", views.index, name="index"),
    path("puppies/<slug:slug>/", views.puppy_detail, name="puppy"),
    path("parents/", pages.parents, name="parents"),
    # The breeder's other pages, each at /<kind>/: /about/, /faq/, /terms/, /privacy/, /imprint/.
    *(
        path(f"{kind}/", pages.page, {"kind": kind}, name=kind)
        for kind in Page.Kind.values
        if kind != Page.Kind.PARENTS
    ),
]
