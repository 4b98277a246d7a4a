"""The providers' published examples (tests/fixtures/, see its README), loaded for the tests.

Stripe publishes example objects: `stripe_example()` hands out a fresh copy of one, and
`with_values()` derives a case from it by changing values of keys it has — never by adding a
key Stripe's example lacks. PayPal publishes no response examples, only schemas:
`paypal_schema()` / `paypal_operation_schema()` read schemas.json, `schema_property()` walks a
key path through it and `conformance_errors()` checks a document against it. `missing_paths()`
says which of the key paths Kennel reads a document lacks.
"""

import copy
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@functools.cache
def _load(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / relative).read_text(encoding="utf-8"))
    return data


# --------------------------------------------------------------------------- any provider


def missing_paths(doc: dict[str, Any], paths: tuple[str, ...]) -> list[str]:
    """The key paths (``data.object.id``, ``purchase_units[].payments.captures[].id``) `doc`
    lacks; a ``[]`` segment must be a non-empty list whose every element has the rest."""

    def has(node: Any, segments: list[str]) -> bool:
        if not segments:
            return True
        key, array = segments[0].removesuffix("[]"), segments[0].endswith("[]")
        if not isinstance(node, dict) or key not in node:
            return False
        if not array:
            return has(node[key], segments[1:])
        items = node[key]
        return isinstance(items, list) and bool(items) and all(has(i, segments[1:]) for i in items)

    return [path for path in paths if not has(doc, path.split("."))]


# --------------------------------------------------------------------------- Stripe


def stripe_example(name: str) -> dict[str, Any]:
    """A fresh copy of Stripe's example object `name` (``checkout.session``, ``charge``, …)."""
    example: dict[str, Any] = copy.deepcopy(_load("stripe/fixtures.json")[name])
    return example


def stripe_keys(name: str) -> frozenset[str]:
    """The top-level keys of Stripe's example object `name`."""
    return frozenset(_load("stripe/fixtures.json")[name])


def with_values(example: dict[str, Any], **values: Any) -> dict[str, Any]:
    """`example` with the values of some of its keys changed. A key it lacks is refused: a
    case must be one Stripe could send, not one we imagine."""
    unknown = sorted(set(values) - set(example))
    assert not unknown, f"Stripe's example object has no key(s) {unknown}"
    return {**copy.deepcopy(example), **values}


# --------------------------------------------------------------------------- PayPal


@dataclass(frozen=True)
class Schema:
    """One object schema of schemas.json (allOf already flattened there)."""

    api: str
    name: str
    properties: tuple[str, ...]
    types: dict[str, dict[str, Any]]

    def enum(self, prop: str) -> frozenset[str]:
        return frozenset(self.types.get(prop, {}).get("enum") or ())

    def is_array(self, prop: str) -> bool:
        return self.types.get(prop, {}).get("type") == "array"

    def ref(self, prop: str) -> str | None:
        """The schema name a property (or its array items) refers to, if any."""
        spec = self.types.get(prop, {})
        ref = (spec.get("items") or {}).get("ref") if self.is_array(prop) else spec.get("ref")
        return str(ref) if ref else None

    def child(self, prop: str) -> "Schema | None":
        """The schema of the property's value (its items' for an array), when the file has it."""
        ref = self.ref(prop)
        return paypal_schema(self.api, ref) if ref and has_paypal_schema(self.api, ref) else None


def has_paypal_schema(api: str, name: str) -> bool:
    return name in _load("paypal/schemas.json")[api]


def paypal_schema(api: str, name: str) -> Schema:
    """Schema `name` of `api` (``orders_v2`` or ``payments_v2``)."""
    raw = _load("paypal/schemas.json")[api][name]
    return Schema(
        api=api,
        name=name,
        properties=tuple(raw.get("properties") or ()),
        types=dict(raw.get("property_types") or {}),
    )


def paypal_enum(api: str, name: str) -> frozenset[str]:
    """The values of an enum schema (e.g. ``orders_v2.order_status``)."""
    return frozenset(_load("paypal/schemas.json")[api][name]["enum"])


_RETURNS = re.compile(r"->\s*(orders_v2|payments_v2)\.([\w-]+)")


def paypal_operation_schema(operation: str) -> Schema:
    """The schema PayPal's operation (``orders.get``, ``captures.refund``…) answers with, as
    schemas.json's ``operations`` table says."""
    for key, answer in _load("paypal/schemas.json")["operations"].items():
        if key.split()[0] == operation:
            match = _RETURNS.search(answer)
            assert match, f"no schema named for {operation}: {answer!r}"
            return paypal_schema(match.group(1), match.group(2))
    raise AssertionError(f"schemas.json lists no operation {operation!r}")


def schema_property(root: Schema, path: str) -> tuple[Schema, str]:
    """Walk a key path (``purchase_units[].payments.captures[].status``; ``[]`` marks an
    array) through the schemas; returns the schema owning the last key, and that key.
    Fails with the first segment that is not a property of its schema (or not an array when
    marked ``[]``, or an array when not)."""
    schema, segments = root, path.split(".")
    for i, segment in enumerate(segments):
        key, array = segment.removesuffix("[]"), segment.endswith("[]")
        where = f"{schema.api}.{schema.name}"
        assert key in schema.properties, f"{path}: {key!r} is not a property of {where}"
        kind = "an array: mark it []" if schema.is_array(key) else "not an array"
        assert schema.is_array(key) == array, f"{path}: {where}.{key} is {kind}"
        if i == len(segments) - 1:
            return schema, key
        child = schema.child(key)
        assert child is not None, f"{path}: {where}.{key} refers to no schema in schemas.json"
        schema = child
    raise AssertionError("empty path")


def conformance_errors(
    doc: Any, schema: Schema, at: str = "", *, unknown_schemas: bool = False
) -> list[str]:
    """Where `doc` departs from `schema`: keys that are not properties, values outside an
    enum — recursively. A nested object whose schema schemas.json does not give is an error
    too (it cannot be checked), unless `unknown_schemas` allows it (for the sandbox's
    objects, which carry more than Kennel needs)."""
    if not isinstance(doc, dict):
        return [f"{at or '.'}: not an object ({schema.name})"]
    errors = []
    for key, value in doc.items():
        here = f"{at}.{key}" if at else key
        if key not in schema.properties:
            errors.append(f"{here}: not a property of {schema.api}.{schema.name}")
            continue
        enum = schema.enum(key)
        if enum and value not in enum:
            errors.append(f"{here}: {value!r} not in {sorted(enum)}")
        values = value if schema.is_array(key) and isinstance(value, list) else [value]
        for n, item in enumerate(values):
            if not isinstance(item, dict):
                continue
            child = schema.child(key)
            item_at = f"{here}[{n}]" if schema.is_array(key) else here
            if child is not None:
                errors.extend(
                    conformance_errors(item, child, item_at, unknown_schemas=unknown_schemas)
                )
            elif not unknown_schemas:
                errors.append(f"{item_at}: schema {schema.ref(key)!r} not in schemas.json")
    return errors


def paypal_webhooks() -> dict[str, Any]:
    """webhook_examples.json: the Webhooks v1 event schema, its one published example and the
    observed shapes of PAYMENT.CAPTURE.COMPLETED / CHECKOUT.ORDER.APPROVED."""
    data: dict[str, Any] = copy.deepcopy(_load("paypal/webhook_examples.json"))
    return data
