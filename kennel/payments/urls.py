from django.urls import path

from kennel.payments import views

app_name = "payments"
urlpatterns = [
    path("puppies/<slug:slug>/reserve/", views.reserve, name="reserve"),
    # The same without the slash: a provider told that address gets no redirect, which it
    # would not follow for a POST (every delivery would fail, silently for the shop). The same
    # name, so /metrics counts both under one route; reverse() gives the last one, the slash's.
    path("webhooks/<str:provider>", views.webhook, name="webhook"),
    path("webhooks/<str:provider>/", views.webhook, name="webhook"),
    path("payments/<str:provider>/return/", views.payment_return, name="return"),
    path("payments/<str:provider>/cancel/", views.payment_cancel, name="cancel"),
]
