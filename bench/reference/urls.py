from django.urls import path

from bench.reference import views

urlpatterns = [
    path("bare/", views.bare),
    path("plain/", views.plain_catalogue),
    path("webhooks/stripe/", views.floor_ingest),
    path("api/reservations/", views.floor_hold),
]
