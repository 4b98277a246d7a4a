"""Text people type on several lines: a line break is one character, "\n", whichever way the
browser or app sent it ("\r\n" from every browser's textarea, "\r" from old systems), so a
length limit counts what the reader sees."""

from typing import Any

from django import forms


def one_line_break(text: str) -> str:
    """`text` with its line breaks as "\n"."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


class MultilineField(forms.CharField):
    """A textarea whose `max_length` counts each line break once (it is checked after this
    cleaning, the HTML maxlength before; browsers count a break once there too)."""

    widget = forms.Textarea

    def to_python(self, value: Any) -> Any:
        return super().to_python(one_line_break(value) if isinstance(value, str) else value)
