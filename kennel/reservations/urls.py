from django.urls import re_path

from kennel.reservations import views, waitlist_views

app_name = "reservations"
urlpatterns = [
    # Tokens are secrets.token_urlsafe(): anything else cannot be one (and never reaches the DB).
    re_path(r"^reservations/(?P<token>[A-Za-z0-9_-]{1,64})/$", views.status, name="status"),
    re_path(r"^reservations/(?P<token>[A-Za-z0-9_-]{1,64})/cancel/$", views.cancel, name="cancel"),
    # A family's page on a waiting list, and its buttons (each a POST form).
    re_path(
        r"^waitlist/(?P<token>[A-Za-z0-9_-]{1,64})/$",
        waitlist_views.waitlist,
        name="waitlist",
    ),
    re_path(
        r"^waitlist/(?P<token>[A-Za-z0-9_-]{1,64})/pick/$",
        waitlist_views.pick,
        name="waitlist_pick",
    ),
    re_path(
        r"^waitlist/(?P<token>[A-Za-z0-9_-]{1,64})/pass/$",
        waitlist_views.pass_turn,
        name="waitlist_pass",
    ),
    re_path(
        r"^waitlist/(?P<token>[A-Za-z0-9_-]{1,64})/withdraw/$",
        waitlist_views.withdraw,
        name="waitlist_withdraw",
    ),
]
