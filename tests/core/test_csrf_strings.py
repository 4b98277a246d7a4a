"""CSRF strings drawn in one call (kennel/core/csrf.py): as random as Django's own, and used
by Django's CSRF protection everywhere (the language switch on the cached catalogue:
tests/catalogue/test_catalogue_cache.py)."""

import re
from collections import Counter

import pytest
from django.middleware import csrf
from django.test import Client

from kennel.core.csrf import new_csrf_string

pytestmark = pytest.mark.django_db


def test_each_string_is_32_letters_of_the_csrf_alphabet_and_never_repeats():
    strings = [new_csrf_string() for _ in range(5000)]

    assert {len(s) for s in strings} == {csrf.CSRF_SECRET_LENGTH}
    assert set("".join(strings)) <= set(csrf.CSRF_ALLOWED_CHARS)
    assert len(set(strings)) == len(strings)


def test_every_letter_is_equally_likely():
    counts = Counter("".join(new_csrf_string() for _ in range(5000)))

    expected = 5000 * 32 / len(csrf.CSRF_ALLOWED_CHARS)  # 2,580 each; one sigma is ~50
    # Folding the 256 byte values onto 62 letters would give eight of them 25 % more.
    assert set(counts) == set(csrf.CSRF_ALLOWED_CHARS)
    assert all(abs(n - expected) < 0.1 * expected for n in counts.values()), counts


def test_a_first_visit_gets_its_secret_and_masked_token_from_here():
    visitor = Client(enforce_csrf_checks=True)

    response = visitor.get("/")

    assert csrf._get_new_csrf_string is new_csrf_string
    secret = response.cookies["csrftoken"].value
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert token
    assert len(secret) == 32
    assert len(token.group(1)) == 64
    assert csrf._unmask_cipher_token(token.group(1)) == secret
