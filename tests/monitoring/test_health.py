import logging

import pytest

from tests.conftest import unreachable_database


@pytest.mark.django_db
def test_health_reports_the_process_and_the_database(client):
    answer = client.get("/health/")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["database"]) == ("ok", "ok")


@pytest.mark.django_db
def test_health_says_which_integrations_are_off_and_why(client, settings):
    settings.OWNER_EMAIL = ""
    settings.GA4_MEASUREMENT_ID = settings.GA4_API_SECRET = ""
    settings.META_PIXEL_ID, settings.META_ACCESS_TOKEN = "123", "token-not-shown"
    integrations = client.get("/health/").json()["integrations"]
    assert integrations["owner_email"]["enabled"] is False
    assert "OWNER_EMAIL" in integrations["owner_email"]["detail"]
    assert integrations["ga4"]["enabled"] is False
    assert integrations["meta"] == {"enabled": True}


def test_health_answers_503_when_the_database_is_unreachable(client, settings):

    with unreachable_database():
        answer = client.get("/health/")
    assert answer.status_code == 503
    assert answer.json()["database"] == "unavailable"


@pytest.mark.django_db
def test_health_is_503_on_a_database_not_migrated(client, monkeypatch):
    """Tried: on a fresh database nobody had migrated, /health/ said ok while every page
    answered 500."""
    from django.db import connection

    from kennel.monitoring import views

    monkeypatch.setattr(views, "_migrated", False)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = 'reservations' AND name = "
            "(SELECT MAX(name) FROM django_migrations WHERE app = 'reservations')"
        )

    answer = client.get("/health/")

    assert answer.status_code == 503
    assert answer.json()["database"] == "not migrated"
    assert "Retry-After" not in answer  # waiting will not help: someone must migrate


def test_health_tells_when_to_try_again_while_the_database_is_unreachable(client):
    with unreachable_database():
        answer = client.get("/health/")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"


@pytest.mark.django_db
def test_a_half_set_integration_names_the_setting_missing(client, settings):
    """Tried: with GA4_MEASUREMENT_ID set and GA4_API_SECRET not, the page said both were."""
    settings.GA4_MEASUREMENT_ID, settings.GA4_API_SECRET = "G-ABC123", ""
    settings.META_PIXEL_ID, settings.META_ACCESS_TOKEN = "", "token-not-shown"

    integrations = client.get("/health/").json()["integrations"]

    assert integrations["ga4"]["detail"] == "off: GA4_API_SECRET is not set"
    assert integrations["meta"]["detail"] == "off: META_PIXEL_ID is not set"
    assert "token-not-shown" not in str(integrations)


def test_health_503_is_its_answer_not_an_error_in_the_log(client, caplog):
    """Tried: each probe while the database was away logged "ERROR django.request Service
    Unavailable: /health/" — the probe's answer, logged as though the probe had failed."""
    with caplog.at_level(logging.INFO), unreachable_database():
        answer = client.get("/health/")
    assert answer.status_code == 503
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_page_that_meets_the_lost_database_is_still_logged_as_an_error(client, caplog):
    """Health answers 503 quietly; any other request that fails still says so."""
    with caplog.at_level(logging.INFO), unreachable_database():
        answer = client.get("/")
    assert answer.status_code == 503
    [line] = [r for r in caplog.records if r.name == "django.request"]
    assert line.levelno == logging.ERROR
    assert line.getMessage() == "Service Unavailable: /"
