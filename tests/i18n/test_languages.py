"""English and French: the French catalogue is complete and compiled; a buyer reading French
(their browser's Accept-Language, or the switch) gets French pages with French money and
dates; a reservation made in French keeps "fr", so the buyer's emails are French while the
owner's stay in the shop's language; switching back gives English again."""

import gettext
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation.template import templatize

from kennel.catalogue.agreement import CONTEXTS
from kennel.catalogue.management.commands.makemessages import MARKER, template_marked
from kennel.core.money import format_money
from kennel.reservations.models import Reservation
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory
from tests.notifications.helpers import confirm

PACKAGE = Path(django_settings.PACKAGE_DIR)
PO = PACKAGE / "locale" / "fr" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
NBSP, NNBSP = "\u00a0", "\u202f"  # Babel's French: no-break space, narrow one for thousands
APOS = "\u2019"  # French text's apostrophe
FR_1500 = f"1{NNBSP}500,00{NBSP}€"

# What makemessages reads (README, "Languages"): Python and templates of the package, the
# back office's own templates included. A sentence that agrees with a puppy (`Agreeing(…)`,
# `context puppy|agreement`) is read in both its contexts.
KEYWORDS = ("gettext", "gettext_lazy", "gettext_noop", "_", "ngettext", "ngettext_lazy")
CONTEXT_KEYWORDS = ("pgettext", "pgettext_lazy", "npgettext", "npgettext_lazy")
AGREEING = "Agreeing"
EVERY_KEYWORD: dict[str, None] = dict.fromkeys((*KEYWORDS, *CONTEXT_KEYWORDS, AGREEING))
PLACEHOLDER = re.compile(r"%\((\w+)\)s|\{(\w+)\}")


def _catalog() -> Any:
    with PO.open("rb") as f:
        return read_po(f, locale="fr")


def _used_messages() -> set[tuple[str | None, str]]:
    """(context, msgid) of every string the package marks for translation."""
    used: set[tuple[str | None, str]] = set()
    sources = [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts]
    templates = [p for p in (PACKAGE / "templates").rglob("*") if p.suffix in (".html", ".txt")]
    for path in sources + templates:
        code = path.read_text()
        if path.suffix != ".py":
            # As Python to the tokenizer: one statement a line, none indented.
            code = "\n".join(
                line.lstrip()
                for line in templatize(template_marked(code), origin=str(path)).split("\n")
            )
        found = extract_python(io.BytesIO(code.encode()), EVERY_KEYWORD, [], {})
        for _line, funcname, found_args, _comments in found:
            args: tuple[Any, ...] = found_args if isinstance(found_args, tuple) else (found_args,)
            context = args[0] if funcname in CONTEXT_KEYWORDS else None
            msgid = args[1] if context is not None else args[0]
            if funcname == AGREEING:
                context = MARKER
            if isinstance(msgid, str) and msgid:
                contexts = CONTEXTS if context == MARKER else (context,)
                used.update((each, msgid) for each in contexts)
    return used


def _client(language: str | None = None, *, accept_language: str = "") -> Client:
    client = Client(headers={"accept-language": accept_language} if accept_language else None)
    if language:
        answer = client.post(reverse("set_language"), {"language": language, "next": "/"})
        assert answer.status_code == 302
    return client


# --- the catalogue itself ------------------------------------------------------------------


def test_every_french_entry_is_translated_none_fuzzy_with_the_same_placeholders():
    catalog = _catalog()
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {ids[0]!r}")
        if not all(strings):
            problems.append(f"untranslated: {ids[0]!r}")
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            if string and set(PLACEHOLDER.findall(string)) != wanted:
                problems.append(f"placeholders differ: {ids[0]!r} -> {string!r}")
    assert not catalog.fuzzy, "the header is still marked fuzzy"
    assert problems == []
    assert len(catalog) > 250


def test_every_string_the_code_marks_is_in_the_french_catalogue():
    """A new {% translate %} without `make messages` fails here, not in front of a buyer."""
    catalog = _catalog()
    known = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id}
    missing = sorted(str(key) for key in _used_messages() - known)
    assert missing == [], "run `make messages` and translate the new entries"


def test_the_compiled_mo_is_the_po():
    """The .mo is committed (a fresh machine needs no msgfmt): it must say what the .po says."""
    with MO.open("rb") as f:
        compiled = dict(gettext.GNUTranslations(f)._catalog)
    expected: dict[Any, str] = {}
    for message in _catalog():
        if not message.id:
            continue
        prefix = f"{message.context}\x04" if message.context else ""
        if isinstance(message.id, tuple):
            for n, string in enumerate(message.string):
                expected[(prefix + message.id[0], n)] = string
        else:
            expected[prefix + message.id] = message.string
    compiled.pop("", None)  # the header
    assert compiled == expected, "run `make messages` (compilemessages) and commit the .mo"


# --- money and dates -------------------------------------------------------------------------


def test_money_reads_as_each_language_writes_it():
    with translation.override("en"):
        assert format_money(Decimal("1500"), "EUR") == "1,500.00 EUR"
        assert format_money(Decimal("1500"), "JPY") == "1,500 JPY"
    with translation.override("fr"):
        assert format_money(Decimal("1500"), "EUR") == FR_1500
        assert format_money(Decimal("1500"), "JPY") == f"1{NNBSP}500{NBSP}JPY"
        assert format_money(Decimal("99.5"), "GBP") == f"99,50{NBSP}£GB"


# --- pages -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_french_browser_gets_the_catalogue_and_puppy_page_in_french():
    puppy = PuppyFactory(name="Bella", price=Decimal("1500.00"), deposit=Decimal("300.00"))
    client = _client(accept_language="fr-FR,fr;q=0.9,en;q=0.5")

    catalogue = client.get("/").content.decode()
    page = client.get(puppy.get_absolute_url()).content.decode()

    assert '<html lang="fr">' in catalogue
    assert "<h1>Nos chiots</h1>" in catalogue
    assert FR_1500 in catalogue
    assert "Our puppies" not in catalogue
    assert '<html lang="fr">' in page
    assert f"Réservez avec un acompte de 300,00{NBSP}€" in page
    assert f"Réserver et régler l{APOS}acompte" in page
    assert "Reserve and pay the deposit" not in page
    # What machines read stays as machines write it, whatever the language.
    assert '<meta property="product:price:amount" content="1500.00">' in page
    # The switch offers the other language, in its own words.
    assert 'lang="en">English</button>' in page
    assert 'aria-current="true">Français</span>' in page


@pytest.mark.django_db
def test_the_switch_turns_the_pages_french_and_back_to_english():
    puppy = PuppyFactory(name="Bella", price=Decimal("1500.00"))
    client = _client()
    assert "<h1>Our puppies</h1>" in client.get("/").content.decode()

    switched = client.post(
        reverse("set_language"), {"language": "fr", "next": puppy.get_absolute_url()}
    )

    assert switched.status_code == 302
    assert switched["Location"] == puppy.get_absolute_url()  # back where they were
    assert client.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "fr"
    french = client.get(puppy.get_absolute_url()).content.decode()
    assert "Réservez avec un acompte" in french
    assert FR_1500 in french

    client.post(reverse("set_language"), {"language": "en", "next": "/"})

    english = client.get(puppy.get_absolute_url()).content.decode()
    assert "Reserve with a deposit of 300.00 EUR" in english
    assert "1,500.00 EUR" in english
    assert "<h1>Our puppies</h1>" in client.get("/").content.decode()


@pytest.mark.django_db
def test_the_switch_needs_its_csrf_token():
    client = Client(enforce_csrf_checks=True)
    assert client.post(reverse("set_language"), {"language": "fr"}).status_code == 403


@pytest.mark.django_db
def test_form_errors_are_french_on_a_french_page():
    puppy = PuppyFactory(name="Bella")
    client = _client("fr")

    answer = client.post(
        reverse("payments:reserve", kwargs={"slug": puppy.slug}),
        {"name": "", "email": "nope", "phone": "", "provider": "stripe"},
    )

    html = answer.content.decode()
    assert answer.status_code == 422
    assert 'data-error-code="VALIDATION_ERROR"' in html  # the code never changes
    assert "Veuillez vérifier le formulaire" in html
    assert f"Nom{NBSP}: Veuillez indiquer votre nom." in html
    assert "Veuillez indiquer une adresse e-mail valide." in html
    assert f"Veuillez accepter les conditions d{APOS}acompte et de remboursement" in html


@pytest.mark.django_db
def test_a_pasted_tab_and_a_short_phone_are_explained_truly_in_french():
    """Tried: a name with a pasted tab read "a name of at most 120 plain characters", the
    phone "12" "digits, spaces, + - ( ) only" — both untrue, and in English on this page."""
    puppy = PuppyFactory(name="Bella")
    client = _client("fr")

    answer = client.post(
        reverse("payments:reserve", kwargs={"slug": puppy.slug}),
        {"name": "Jean\tDupont", "email": "jean@example.com", "phone": "12"},
    )

    html = answer.content.decode()
    assert answer.status_code == 422
    assert "Veuillez indiquer votre nom sans tabulation" in html
    assert f"Veuillez indiquer un numéro de téléphone d{APOS}au moins 6 chiffres." in html
    assert "plain characters" not in html
    assert "digits" not in html


@pytest.mark.django_db(transaction=True)
def test_paypal_refusing_a_currency_is_said_in_french_on_a_french_page(sandbox):
    won = PuppyFactory(currency="KRW", price=3_000_000, deposit=300_000)
    form = {"name": "Jean", "email": "jean@example.com", "phone": "+33 6 12 34 56 78"}

    answer = _client("fr").post(
        reverse("payments:reserve", kwargs={"slug": won.slug}),
        {**form, "provider": "paypal", "accept_terms": "on"},
    )

    html = answer.content.decode()
    assert answer.status_code == 422
    assert f"PayPal n{APOS}accepte pas les paiements en KRW." in html
    assert "does not take" not in html
    assert not Reservation.objects.exists()


@pytest.mark.django_db
def test_the_api_says_what_is_wrong_with_a_name_and_phone_in_english():
    puppy = PuppyFactory()
    answer = Client().post(
        "/api/reservations/",
        {
            "puppy": puppy.slug,
            "name": "Jean\tDupont",
            "email": "jean@example.com",
            "phone": "+1 (23) 45",  # long enough for the schema, five digits
            "provider": "stripe",
            "accept_terms": True,
        },
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    error = answer.json()["error"]
    assert answer.status_code == 422
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["fields"] == {
        "name": ["Please enter your name without tabs, line breaks or control characters."],
        "phone": ["Please enter a phone number with at least 6 digits."],
    }
    assert not Reservation.objects.exists()


@pytest.mark.django_db
def test_the_api_message_stays_english_whatever_the_language():
    answer = Client().post(
        "/api/reservations/",
        {"puppy": "nobody", "name": "", "email": "", "phone": "", "provider": "stripe"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"] == "Some fields are missing or invalid."


# --- a reservation made in French ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_reservation_made_in_french_keeps_french_for_the_buyer_and_not_for_the_owner(
    sandbox, live_server, settings
):
    settings.OWNER_EMAIL = "owner@kennel.example"
    settings.BREEDER_NAME = "Élevage du Moulin"
    settings.BREEDER_EMAIL = "contact@moulin.example"
    puppy = PuppyFactory(
        name="Bella", slug="bella", price=Decimal("1500.00"), deposit=Decimal("300.00")
    )
    client = _client("fr")

    answer = client.post(
        reverse("payments:reserve", kwargs={"slug": puppy.slug}),
        {
            "name": "Camille Durand",
            "email": "camille@example.fr",
            "phone": "+33 6 12 34 56 78",
            "provider": "stripe",
            "accept_terms": "on",
        },
    )
    assert answer.status_code == 303, answer.content.decode()
    reservation = Reservation.objects.get()
    assert reservation.language == "fr"

    pending = client.get(reservation.get_absolute_url()).content.decode()
    assert f"C{APOS}est presque fini" in pending
    until = (
        rf"Nous vous gardons Bella jusqu{APOS}à <time datetime=\"[^\"]+\">\d\d:\d\d CES?T</time>"
    )
    assert re.search(until, pending)

    mail.outbox.clear()
    confirmed = confirm(reservation, payment_id="pi_fr_1")
    run_worker_once()

    page = client.get(confirmed.get_absolute_url()).content.decode()
    assert f"Réservée pour vous{NBSP}!" in page
    assert f"Acompte versé</dt><dd>300,00{NBSP}€" in page
    balance = f'<dd class="status__balance">1{NNBSP}200,00{NBSP}€</dd>'
    assert f"Solde à régler au départ du chiot</dt>{balance}" in page
    # The timeline's moments carry their zone (TIME_ZONE: Europe/Paris in winter).
    assert re.search(r"\d{1,2} \w+ \d{4} à \d\d:\d\d CES?T</time>", page)

    by_recipient = {message.to[0]: message for message in mail.outbox}
    buyer = by_recipient["camille@example.fr"]
    owner = by_recipient["owner@kennel.example"]
    [(buyer_html, _)] = buyer.alternatives
    assert buyer.subject == "Votre acompte pour Bella est confirmé"
    for body in (buyer.body, str(buyer_html)):
        assert "Bonjour Camille Durand," in body
        assert f"300,00{NBSP}€" in body
        assert f"1{NNBSP}500,00{NBSP}€" in body
        assert "La suite" in body
        assert "Carte bancaire (Stripe)" in body
    assert '<html lang="fr">' in str(buyer_html)
    # The owner reads the shop's language (LANGUAGE_CODE), whatever the buyer's.
    assert owner.subject == "Deposit received: Bella, for Camille Durand"
    assert "300.00 EUR" in owner.body
    assert "Card (Stripe)" in owner.body


@pytest.mark.django_db(transaction=True)
def test_the_api_keeps_the_language_its_request_asked_for(sandbox, live_server):
    puppy = PuppyFactory(slug="api-fr")
    created = httpx.post(
        f"{live_server.url}/api/reservations/",
        json={
            "puppy": puppy.slug,
            "name": "Camille Durand",
            "email": "camille@example.fr",
            "phone": "+33 6 12 34 56 78",
            "provider": "stripe",
            "accept_terms": True,
        },
        headers={"Accept-Language": "fr-CA,fr;q=0.8"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    assert Reservation.objects.get(pk=created.json()["id"]).language == "fr"


@pytest.mark.django_db
def test_the_breeder_may_make_french_the_shops_language(settings):
    settings.LANGUAGE_CODE = "fr"
    PuppyFactory(price=Decimal("1500.00"))

    html = Client().get("/").content.decode()  # no Accept-Language, no cookie

    assert '<html lang="fr">' in html
    assert FR_1500 in html
