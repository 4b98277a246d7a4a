from django.urls import path

from kennel.payments import views

app_name = "payments"
urlpatterns = [
    path("puppies/<slug:slug>/reserve/", views.reserve, name="reserve"),
    path("webhooks/<str:provider>/", views.webhook, name="webhook"),
    path("payments/<str:provider>/return/", views.payment_return, name="return"),
    path("payments/<str:provider>/cancel/", views.payment_cancel, name="cancel"),
]
