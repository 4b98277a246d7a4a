from django.urls import path

from kennel.catalogue import litter_views, pages, views
from kennel.catalogue.models import Page

app_name = "catalogue"
urlpatterns = [
    path("", views.index, name="index"),
    path("puppies/<slug:slug>/", views.puppy_detail, name="puppy"),
    path("litters/", litter_views.litter_list, name="litters"),
    path("litters/<slug:slug>/", litter_views.litter_detail, name="litter"),
    path("litters/<slug:slug>/waitlist/", litter_views.litter_join, name="litter_join"),
    path("parents/", pages.parents, name="parents"),
    # The breeder's other pages, each at /<kind>/: /about/, /faq/, /terms/, /privacy/, /imprint/.
    *(
        path(f"{kind}/", pages.page, {"kind": kind}, name=kind)
        for kind in Page.Kind.values
        if kind != Page.Kind.PARENTS
    ),
]
