from django.urls import re_path

from kennel.reservations import views

app_name = "reservations"
urlpatterns = [
    # Tokens are secrets.token_urlsafe(): anything else cannot be one (and never reaches the DB).
    re_path(r"^reservations/(?P<token>[A-Za-z0-9_-]{1,64})/$", views.status, name="status"),
    re_path(r"^reservations/(?P<token>[A-Za-z0-9_-]{1,64})/cancel/$", views.cancel, name="cancel"),
]
