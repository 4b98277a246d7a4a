"""The admin door: repeated failed log-ins lock a username from an address (django-axes),
the right password included, with a plain message; an unknown username is answered exactly
like a wrong password, so the page tells nobody which accounts exist."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-admin-password-42"
LOCKED = "Too many failed log-ins"
WRONG = "Please enter the correct username and password for a staff account."


@pytest.fixture
def owner():
    return get_user_model().objects.create_superuser("owner", "owner@example.com", PASSWORD)


def log_in(client, username, password, ip="203.0.113.7"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": reverse("admin:index")},
        REMOTE_ADDR=ip,
    )


def test_the_right_password_logs_in(client, owner):
    response = log_in(client, "owner", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_after_five_failures_even_the_right_password_is_refused(client, owner, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        response = log_in(client, "owner", "wrong")
        assert response.status_code == 200
        assert WRONG in response.content.decode()

    fifth = log_in(client, "owner", "wrong")
    assert fifth.status_code == 429
    assert LOCKED in fifth.content.decode()

    right = log_in(client, "owner", PASSWORD)
    assert right.status_code == 429
    assert LOCKED in right.content.decode()
    assert "_auth_user_id" not in client.session
    # The lockout page is served with the same headers as every other page.
    assert "frame-ancestors 'none'" in right["Content-Security-Policy"]

    # Another address is not locked out by this one's failures.
    assert log_in(client, "owner", PASSWORD, ip="198.51.100.9").status_code == 302


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(client, owner):
    unknown = log_in(client, "nobody-here", "wrong", ip="198.51.100.1")
    wrong = log_in(client, "owner", "wrong", ip="198.51.100.2")

    assert unknown.status_code == wrong.status_code == 200
    assert WRONG in unknown.content.decode()
    assert WRONG in wrong.content.decode()
    for _ in range(4):
        unknown = log_in(client, "nobody-here", "wrong", ip="198.51.100.1")
        wrong = log_in(client, "owner", "wrong", ip="198.51.100.2")
    assert unknown.status_code == wrong.status_code == 429
    assert unknown.content == wrong.content


def test_the_reset_command_unlocks_a_username(client, owner):
    for _ in range(5):
        log_in(client, "owner", "wrong")
    assert log_in(client, "owner", PASSWORD).status_code == 429

    call_command("axes_reset_username", "owner", verbosity=0)

    assert log_in(client, "owner", PASSWORD).status_code == 302
