"""Provider-neutral HTTP plumbing of the payment sandbox.

Request parsing (including Stripe-style nested bracket form encoding), a tiny router, responses
and random ids.  Nothing here knows about Stripe or PayPal: each provider package
(``sandbox.stripe``, ``sandbox.paypal``) registers its own routes on the same :class:`Router`.
"""

from __future__ import annotations

import http
import json
import re
import secrets
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

JSON = dict[str, Any]

#: Largest request body the sandbox reads; real APIs refuse far smaller bodies than this anyway.
MAX_BODY_BYTES = 1024 * 1024

_ID_ALPHABET = string.ascii_letters + string.digits


def random_id(prefix: str, length: int = 24) -> str:
    """A provider-looking id such as ``pi_3Qx...``: ``prefix`` plus random alphanumerics."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


# --------------------------------------------------------------------------- form parsing


class FormError(ValueError):
    """A form/query key that does not follow the nested bracket syntax."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART_RE = re.compile(r"\[([^\[\]]*)\]")


def parse_nested(pairs: Iterable[tuple[str, str]]) -> JSON:
    """Turn ``a[b][0][c]=1`` style pairs into nested dicts.

    Indexed (``[0]``) and appended (``[]``) members become dict entries keyed by the index
    string; :func:`as_list` turns such a dict into a list.  Keeping them as dicts here means
    ``metadata[0]=x`` still reads as a mapping where a mapping is expected.
    """
    root: JSON = {}
    for raw_key, value in pairs:
        match = _KEY_RE.match(raw_key)
        if match is None:
            raise FormError(raw_key, f"Invalid parameter name: {raw_key}")
        parts = [match.group(1), *_PART_RE.findall(match.group(2))]
        node: JSON = root
        for depth, part in enumerate(parts):
            key = part if part != "" else str(len(node))
            last = depth == len(parts) - 1
            if last:
                if isinstance(node.get(key), dict):
                    raise FormError(raw_key, f"Invalid value for {raw_key}: expected a hash")
                node[key] = value
            else:
                child = node.setdefault(key, {})
                if not isinstance(child, dict):
                    raise FormError(raw_key, f"Invalid hash for {raw_key}")
                node = child
    return root


def parse_query(query_string: str) -> JSON:
    """Parse a URL query string with the nested bracket syntax."""
    return parse_nested(parse_qsl(query_string, keep_blank_values=True))


def as_list(value: Any) -> list[Any] | None:
    """Read an array parameter encoded as ``x[0]=..&x[1]=..`` or ``x[]=..`` (or a list)."""
    if value is None:
        return None
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and all(k.isdigit() for k in value):
        return [value[k] for k in sorted(value, key=int)]
    return None


# --------------------------------------------------------------------------- request / response


@dataclass
class Request:
    """One HTTP request as the handlers see it."""

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    base_url: str  # scheme://host[:port] the client used to reach us
    route: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query(self) -> JSON:
        return parse_query(self.query_string)

    def form(self) -> JSON:
        """The body parsed as ``application/x-www-form-urlencoded`` (nested brackets)."""
        return parse_query(self.body.decode("utf-8", errors="replace"))

    def params(self) -> JSON:
        """Form body for writes, query string for reads (Stripe's convention)."""
        return self.form() if self.method in ("POST", "PUT", "PATCH") else self.query()


@dataclass
class Response:
    """A complete response; bodies are small, so they are always fully buffered."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: Callbacks run once the response has been written to the client (WSGI ``close()``).
    after: list[Callable[[], None]] = field(default_factory=list)
    #: Seconds to wait before the body is written: a response that outlives the client's
    #: timeout is lost to it, although the request took effect (the PayPal capture switch).
    delay: float = 0.0

    @property
    def status_line(self) -> str:
        try:
            phrase = http.HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        return f"{self.status} {phrase}"

    def with_headers(self, extra: Iterable[tuple[str, str]]) -> Response:
        extra = list(extra)
        names = {name.lower() for name, _ in extra}
        kept = [(n, v) for n, v in self.headers if n.lower() not in names]
        return Response(self.status, self.body, [*kept, *extra], self.after, self.delay)

    def json(self) -> Any:
        return json.loads(self.body)


def json_response(status: int, data: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    # Stripe pretty-prints its JSON; doing the same keeps bodies readable in logs and tests.
    body = json.dumps(data, indent=2).encode("utf-8")
    return Response(status, body, [("Content-Type", "application/json"), *headers])


def html_response(status: int, html: str) -> Response:
    return Response(
        status,
        html.encode("utf-8"),
        [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
    )


def text_response(status: int, text: str) -> Response:
    return Response(status, text.encode("utf-8"), [("Content-Type", "text/plain; charset=utf-8")])


def redirect(location: str, status: int = 303) -> Response:
    return Response(status, b"", [("Location", location), ("Cache-Control", "no-store")])


# --------------------------------------------------------------------------- routing

Handler = Callable[[Request], Response]

_SEGMENT_RE = re.compile(r"\{(\w+)\}")


class Router:
    """Method + path-pattern routing; ``{name}`` matches one path segment.

    A provider may also claim a path prefix with :meth:`fallback`, so that unknown URLs under
    it answer in that provider's error format (Stripe's JSON 404 for ``/v1/...``).
    """

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._fallbacks: list[tuple[str, Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        parts = []
        for segment in pattern.split("/"):
            match = _SEGMENT_RE.fullmatch(segment)
            parts.append(f"(?P<{match.group(1)}>[^/]+)" if match else re.escape(segment))
        regex = re.compile("^" + "/".join(parts) + "$")
        self._routes.append((method.upper(), regex, handler))

    def fallback(self, prefix: str, handler: Handler) -> None:
        self._fallbacks.append((prefix, handler))
        # Longest prefix first, so "/v1/checkout/" could override "/v1/".
        self._fallbacks.sort(key=lambda item: len(item[0]), reverse=True)

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        for route_method, regex, handler in self._routes:
            if route_method != method:
                continue
            match = regex.match(path)
            if match is not None:
                return handler, match.groupdict()
        for prefix, handler in self._fallbacks:
            if path.startswith(prefix):
                return handler, {}
        return None
