import pytest


@pytest.mark.django_db
def test_health_reports_the_process_and_the_database(client):
    answer = client.get("/health/")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "database": "ok"}


def test_health_answers_503_when_the_database_is_unreachable(client, settings):
    from django.db import connections

    db = connections["default"]
    saved = dict(db.settings_dict)
    db.close()
    db.settings_dict.update(
        {"HOST": "127.0.0.1", "PORT": "1", "NAME": "nowhere"}
        if db.vendor == "postgresql"
        else {"NAME": "/nonexistent/dir/kennel.sqlite3"}
    )
    try:
        answer = client.get("/health/")
    finally:
        db.close()
        db.settings_dict.clear()
        db.settings_dict.update(saved)
    assert answer.status_code == 503
    assert answer.json()["database"] == "unavailable"
