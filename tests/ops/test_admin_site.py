"""The back office is the shop's own: its name on every page, the models in three sections a
breeder recognises (System last), and every admin address as it was."""

import re

import pytest
from django.urls import reverse

from tests.factories import PuppyFactory, ReservationFactory

pytestmark = pytest.mark.django_db

SECTIONS = ["Puppies &amp; litters", "Reservations &amp; payments", "System"]


def sections(html: str) -> dict[str, list[str]]:
    """The home page's sections, in order, each with the names of its models in order."""
    found: dict[str, list[str]] = {}
    for block in re.findall(r'<div class="app-[\w-]+ module.*?</table>', html, re.S):
        caption = re.search(r'<a href="[^"]*" class="section"[^>]*>([^<]+)</a>', block)
        assert caption
        models = re.findall(r'<th scope="row" id="[^"]+">\s*(?:<a [^>]*>)?([^<]+?)\s*<', block)
        found[caption.group(1)] = models
    return found


def test_the_back_office_wears_the_shops_name(admin_client, client, settings):
    settings.SHOP_NAME = "Willow Creek Goldens"

    home = admin_client.get(reverse("admin:index")).content.decode()
    login = client.get(reverse("admin:login")).content.decode()

    assert "<title>Today at Willow Creek Goldens | Willow Creek Goldens back office</title>" in home
    assert '<a href="/admin/">Willow Creek Goldens back office</a>' in home
    assert "<h1>Today at Willow Creek Goldens</h1>" in home
    assert "Django administration" not in home
    assert "Willow Creek Goldens back office" in login


def test_the_home_page_groups_the_models_in_three_sections_system_last(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()

    found = sections(html)
    assert list(found) == SECTIONS
    puppies = found["Puppies &amp; litters"]
    assert {"Litters", "Puppies"} <= set(puppies)
    assert puppies == sorted(puppies)  # Django's order within an app: by name
    assert found["Reservations &amp; payments"][:1] == ["Reservations"]
    assert {"Refunds", "Webhook events"} <= set(found["Reservations &amp; payments"])
    system = set(found["System"])
    assert {"Users", "Groups", "Audit logs", "Background work", "Webhook rejections"} <= system
    assert {"Access attempts", "Task Results"} <= system  # the log-in throttle, the task table
    assert html.index("Last reconciliation") < html.index('class="section"')


def test_a_sections_heading_opens_that_section(admin_client):
    home = admin_client.get(reverse("admin:index")).content.decode()
    url = re.search(r'<a href="([^"]+)" class="section"[^>]*>Reservations &amp; payments<', home)
    assert url

    response = admin_client.get(url.group(1))

    assert response.status_code == 200
    page = response.content.decode()
    assert list(sections(page)) == ["Reservations &amp; payments"]
    assert "Needs attention" not in page
    assert admin_client.get("/admin/section/nowhere/").status_code == 404


def test_every_model_on_the_home_page_opens_and_the_admin_addresses_stay(admin_client):
    ReservationFactory(buyer_name="Jane Doe")
    PuppyFactory()
    home = admin_client.get(reverse("admin:index")).content.decode()
    model_links = re.findall(r'<th scope="row" id="[^"]+">\s*<a href="([^"]+)"', home)
    assert len(model_links) >= 12

    for url in [
        *model_links,
        reverse("admin:reservations_reservation_changelist") + "?status__exact=pending",
        reverse("admin:payments_refund_changelist"),
        reverse("admin:payments_webhookevent_changelist"),
        reverse("admin:core_sideeffect_changelist") + "?status__exact=dead",
        reverse("admin:catalogue_puppy_add"),
        reverse("admin:app_list", args=["reservations"]),  # an app's own page, as before
        reverse("admin:auth_user_changelist"),
    ]:
        assert admin_client.get(url).status_code == 200, url


def test_the_admin_door_still_asks_for_a_staff_log_in(client):
    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize(
    ("list_url", "param"),
    [
        ("admin:reservations_reservation_changelist", "status__exact"),
        ("admin:catalogue_puppy_changelist", "currency__exact"),
        ("admin:payments_webhookevent_changelist", "status__exact"),
    ],
)
def test_a_nul_in_a_list_filter_is_a_clear_400_not_a_server_error(admin_client, list_url, param):
    """PostgreSQL cannot hold or compare a NUL character: a filter given one (a mistyped or
    crafted address) is refused as a bad request, and the list answers again without it."""
    url = reverse(list_url)

    refused = admin_client.get(url, {param: "\x00"})
    renamed = admin_client.get(url, {f"{param}\x00": "x"})

    assert refused.status_code == 400
    assert renamed.status_code == 400
    assert admin_client.get(url).status_code == 200
