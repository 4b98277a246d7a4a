"""Django's makemessages, which also extracts the sentences that agree with a puppy
(kennel/catalogue/agreement.py) in both their contexts.

Their context is chosen when they are shown (`context puppy|agreement`, `Agreeing(…)`), and
xgettext reads only a literal one: each file that has such a sentence is handed to it with
that sentence under the context MARKER, and every entry of the .pot made under MARKER is
written once under each of CONTEXTS before the catalogues are merged.
"""

import re
from pathlib import Path
from typing import Any

from django.core.management.commands import makemessages
from django.utils.functional import cached_property
from django.utils.translation.template import templatize

from kennel.catalogue.agreement import CONTEXTS

MARKER = "puppy"
# `{% blocktranslate context puppy|agreement … %}`, `{% translate "…" context x.puppy|agreement %}`
TEMPLATE_MARK = re.compile(r"\bcontext\s+[\w.]+\|agreement\b")
PYTHON_MARK = re.compile(r"\bAgreeing\(")


def template_marked(source: str) -> str:
    """A template's source with each chosen-when-shown context written as MARKER."""
    return TEMPLATE_MARK.sub(f'context "{MARKER}"', source)


def python_marked(source: str) -> str:
    """A Python file's source with each `Agreeing(` written as a pgettext under MARKER (the
    same line: the .pot's line numbers stay right)."""
    return PYTHON_MARK.sub(f'pgettext("{MARKER}", ', source)


def pot_expanded(pot: str) -> str:
    """Each entry of a .pot made under MARKER, once under each of CONTEXTS."""
    marked = f'msgctxt "{MARKER}"'
    entries = []
    for entry in pot.split("\n\n"):
        if marked in entry.split("\n"):
            entries += [entry.replace(marked, f'msgctxt "{context}"') for context in CONTEXTS]
        else:
            entries.append(entry)
    return "\n\n".join(entries)


class BuildFile(makemessages.BuildFile):
    @cached_property
    def is_templatized(self) -> bool:
        """Templates as Django's, and the Python files with an Agreeing sentence."""
        if super().is_templatized:
            return True
        return self.domain == "django" and bool(PYTHON_MARK.search(self._source))

    @cached_property
    def _source(self) -> str:
        return Path(self.path).read_text(encoding="utf-8")

    def preprocess(self) -> None:
        if not self.is_templatized:
            return
        if self.path.endswith(".py"):
            content = python_marked(self._source)
        else:
            content = templatize(template_marked(self._source), origin=self.path[2:])
        Path(self.work_path).write_text(content, encoding="utf-8")


class Command(makemessages.Command):
    build_file_class = BuildFile

    def build_potfiles(self) -> Any:
        potfiles = super().build_potfiles()
        for potfile in potfiles:
            path = Path(potfile)
            path.write_text(pot_expanded(path.read_text(encoding="utf-8")), encoding="utf-8")
        return potfiles
