"""`make messages` runs the project's makemessages: a sentence that agrees with the puppy it
names (catalogue/agreement.py) is extracted once in each context, from a template and from
Python alike, where Django's own reads no context chosen when the page is shown."""

import shutil

import pytest
from babel.messages.pofile import read_po
from django.core.management import call_command


@pytest.mark.skipif(
    shutil.which("xgettext") is None,
    reason="needs GNU gettext (`make test` and `make messages` install it)",
)
def test_a_sentence_that_agrees_with_a_puppy_is_extracted_in_both_contexts(
    tmp_path, settings, monkeypatch
):
    (tmp_path / "locale").mkdir()
    (tmp_path / "page.html").write_text(
        "{% load i18n kennel_tags %}\n"
        "{% blocktranslate context puppy|agreement with name=puppy.name %}"
        "{{ name }} is yours{% endblocktranslate %}\n"
        '{% translate "Our puppies" %}\n'
    )
    (tmp_path / "texts.py").write_text(
        "from kennel.catalogue.agreement import Agreeing\n\n"
        'WENT_HOME = Agreeing(\n    "{name} went "\n    "home with you"\n)\n'
    )
    settings.LOCALE_PATHS = [str(tmp_path / "locale")]
    monkeypatch.chdir(tmp_path)

    call_command("makemessages", locale=["fr"], verbosity=0)

    with (tmp_path / "locale" / "fr" / "LC_MESSAGES" / "django.po").open("rb") as f:
        catalog = read_po(f)
    extracted = {(m.context, m.id): [path for path, _line in m.locations] for m in catalog if m.id}
    assert extracted == {
        ("female puppy", "%(name)s is yours"): ["page.html"],
        ("male puppy", "%(name)s is yours"): ["page.html"],
        ("female puppy", "{name} went home with you"): ["texts.py"],
        ("male puppy", "{name} went home with you"): ["texts.py"],
        (None, "Our puppies"): ["page.html"],
    }
    assert not (tmp_path / "locale" / "django.pot").exists()  # cleaned up as Django does
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locale", "page.html", "texts.py"]
