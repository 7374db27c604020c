"""Function options at the wire (PROTOCOL §5.2), derived from the spec's option classes.

Nothing here names an option. The hooks registered on `_json.converter` are made from
`FunctionOptions` and the option classes: each field's wire name is its Python name in camelCase
(`max_size` -> `maxSize`, `if_` -> `if`, `rate_limit` -> `rateLimit`) unless the table says
otherwise (`cancel_on` -> `cancel`), durations are written by the one duration hook of `_json`
(Go's form, hours at most, where a field's rule says the server parses it so), and nulls and
empty lists are left out.

`options_from_wire` reads a registration's options back into the same classes, checking each
field by the same rule the class statement uses (in the wire's terms: `2.0` is a whole number, a
duration is a string); `OptionError` names the field by its wire path, `throttle.period` or
`concurrency[0].limit`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from inngest_dsl.spec._durations import format_duration
from inngest_dsl.spec._options import (
    FunctionOptions,
    Option,
    class_problems,
    option_fields,
    wire_name,
)
from inngest_dsl.spec._rules import Span, rule_of
from inngest_dsl.wire._json import converter

__all__ = ["OptionError", "options_from_wire"]


class OptionError(ValueError):
    """An option a registration gets wrong; `where` is its wire path, as in the message."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem

    def under(self, prefix: str) -> OptionError:
        return OptionError(f"{prefix}.{self.where}" if self.where else prefix, self.problem)


def go_duration(value: _dt.timedelta) -> str:
    """A duration Go's `time.ParseDuration` reads (hours at most), as `batchEvents` needs."""
    hours, rest = divmod(value, _dt.timedelta(hours=1))
    if hours < 24:
        return format_duration(value)
    rest_ms = round(rest / _dt.timedelta(milliseconds=1))
    return f"{hours}h{format_duration(_dt.timedelta(milliseconds=rest_ms)) if rest_ms else ''}"


_OPTION_CLASSES = frozenset(option.of for _, option in option_fields() if attrs.has(option.of))


def _wire_key(attribute: attrs.Attribute[Any], option: Option | None = None) -> str:
    return (option.wire if option is not None else None) or wire_name(attribute.name)


# -- writing -----------------------------------------------------------------------------------


def _unstructure_option_class(cls: type) -> Callable[[Any], dict[str, Any]]:
    overrides: dict[str, Any] = {}
    for attribute in attrs.fields(cls):
        found = rule_of(attribute.metadata)
        overrides[attribute.name] = override(
            rename=_wire_key(attribute),
            # A default that is not "none" (a throttle's burst of 1) is still written.
            omit_if_default=attribute.default is None,
            unstruct_hook=go_duration if isinstance(found, Span) and found.hours_only else None,
        )
    return make_dict_unstructure_fn(cls, converter, **overrides)


def _listed(value: Sequence[Any]) -> list[Any]:
    return [converter.unstructure(item) for item in value]


converter.register_unstructure_hook_factory(
    lambda cls: cls in _OPTION_CLASSES, _unstructure_option_class
)
_OPTION_KEYS: dict[str, Any] = {
    attribute.name: override(
        rename=_wire_key(attribute, option), unstruct_hook=_listed if option.many else None
    )
    for attribute, option in option_fields()
}
converter.register_unstructure_hook(
    FunctionOptions,
    make_dict_unstructure_fn(
        FunctionOptions, converter, _cattrs_omit_if_default=True, **_OPTION_KEYS
    ),
)


# -- reading -----------------------------------------------------------------------------------


def _structure_option_class(cls: type) -> Callable[[Any, Any], Any]:
    def structure(raw: Any, _: Any) -> Any:
        if not isinstance(raw, Mapping):
            raise OptionError("", "must be an object")
        values = {}
        for attribute in attrs.fields(cls):
            key = _wire_key(attribute)
            given = raw.get(key)
            default = None if attribute.default is attrs.NOTHING else attribute.default
            found = rule_of(attribute.metadata)
            if found is None or (given is None and attribute.default is not attrs.NOTHING):
                values[attribute.name] = default if given is None else given
                continue
            problem = found.wire_problem(given)
            if problem is not None:
                raise OptionError(key, problem)
            values[attribute.name] = found.from_wire(given, default)
        item = cls(**values)
        for field_name, problem in class_problems(item, wire=True, fields=False):
            raise OptionError(wire_name(field_name) if field_name else "", problem)
        return item

    return structure


converter.register_structure_hook_factory(
    lambda cls: cls in _OPTION_CLASSES, _structure_option_class
)


def _read(attribute: attrs.Attribute[Any], option: Option, raw: Any) -> Any:
    key = _wire_key(attribute, option)
    if option.rule is not None:
        problem = option.rule.wire_problem(raw)
        if problem is not None:
            raise OptionError(key, problem)
        return option.rule.from_wire(raw, None)
    if not option.many:
        try:
            return converter.structure(raw, option.of)
        except OptionError as exc:
            raise exc.under(key) from None
    if option.short_on_wire and option.short is not None and _number(raw):
        raw = [{option.short[1]: raw}]
    elif isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        number = "a number, " if option.short_on_wire else ""
        raise OptionError(key, f"must be {number}an object or a list of objects")
    if len(raw) > option.many:
        raise OptionError(key, f"at most {option.many} {option.noun}, got {len(raw)}")
    items: list[Any] = []
    for index, entry in enumerate(raw):
        try:
            items.append(converter.structure(entry, option.of))
        except OptionError as exc:
            raise exc.under(f"{key}[{index}]") from None
    return tuple(items)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _structure_options(config: Any, _: Any) -> FunctionOptions:
    if not isinstance(config, Mapping):
        raise OptionError("", "must be an object")
    values = {}
    for attribute, option in option_fields():
        raw = config.get(_wire_key(attribute, option))
        if raw is not None:
            values[attribute.name] = _read(attribute, option, raw)
    options = FunctionOptions(**values)
    if options.batch_events is not None:
        clashes = [
            _wire_key(attribute, option)
            for attribute, option in option_fields()
            if option.not_with_batch and getattr(options, attribute.name) not in (None, ())
        ]
        if clashes:
            raise OptionError("batchEvents", f"cannot be combined with {', '.join(clashes)}")
    return options


converter.register_structure_hook(FunctionOptions, _structure_options)


def options_from_wire(config: Mapping[str, Any]) -> FunctionOptions:
    """The options of a registration's FunctionConfig; raises `OptionError` naming the field."""
    return converter.structure(config, FunctionOptions)
