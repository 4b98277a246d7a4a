from django.urls import path

from kennel.payments import views

app_name = "payments"
urlpatterns = [
    path("puppies/<slug:slug>/reserve/", views.reserve, name="reserve"),
    path("webhooks/<str:provider>/", views.webhook, name="webhook"),
    # The same without the slash: a provider told that address gets no redirect, which it
    # would not follow for a POST (every delivery would fail, silently for the shop).
    path("webhooks/<str:provider>", views.webhook),
    path("payments/<str:provider>/return/", views.payment_return, name="return"),
    path("payments/<str:provider>/cancel/", views.payment_cancel, name="cancel"),
]
