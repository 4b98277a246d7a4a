"""French makes a sentence agree with the puppy it names ("Rosie vous est réservée", "Max vous
est réservé"); English does not. Such a sentence is translated in one of two fixed contexts,
FEMALE or MALE, which `agreement()` picks from the puppy's sex:

- in a template, `{% blocktranslate context puppy|agreement … %}` (the `agreement` filter);
- in Python, the sentence is an `Agreeing(…)`, read with `for_puppy(message, puppy)`.

Django's makemessages reads only a literal context, so `make messages` runs the project's
(catalogue/management/commands/makemessages.py): it extracts each such sentence once in each
context, and the French catalogue says both. A sentence about "a puppy" or "this puppy" is not
one of them: "chiot" is masculine, whatever the puppy.
"""

from dataclasses import dataclass
from typing import Any

from django.utils.translation import pgettext

from kennel.catalogue.models import Puppy

FEMALE = "female puppy"
MALE = "male puppy"
CONTEXTS = (FEMALE, MALE)


@dataclass(frozen=True)
class Agreeing:
    """An English sentence (its msgid) naming one particular puppy, whose translation agrees
    with that puppy. Not a str, so it cannot be shown without `for_puppy`."""

    msgid: str


def agreement(puppy: Puppy) -> str:
    """The context a sentence naming `puppy` is translated in."""
    return FEMALE if puppy.sex == Puppy.Sex.FEMALE else MALE


def for_puppy(message: Any, puppy: Puppy) -> str:
    """`message` in the active language: an Agreeing sentence as it agrees with `puppy`, any
    other (a lazy translation, where French needs no agreement) as it is."""
    if isinstance(message, Agreeing):
        return pgettext(agreement(puppy), message.msgid)
    return str(message)
