"""Function options (PROTOCOL §5.2): the class keywords checked as the server would check
them, and normalised for the spec (durations as `timedelta`s, a `Cancel`'s `match` as `if_`).

Nothing here names an option: the keywords, how each may be written and what each excludes
come from the table of options, `FunctionOptions` (`spec/_options.py`), and the checks from the
rules its classes' fields carry. Every problem is recorded, not raised, so the class statement
reports them all at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inngest_dsl.spec._options import Option, class_problems, normalised, option_fields

__all__ = ["OPTION_KEYWORDS", "compile_options"]

OPTION_KEYWORDS = tuple(attribute.name for attribute, _ in option_fields())
"""The class keywords that set function options, in the order they are checked."""


def _item(problems: list[str], where: str, option: Option, value: object) -> object | None:
    """One option value checked and normalised; `None` (and problems recorded) if it is wrong."""
    if option.short is not None:
        kind, field_name = option.short
        if isinstance(value, kind) and not isinstance(value, bool):
            value = option.of(**{field_name: value})
    if not isinstance(value, option.of) or isinstance(value, bool):
        problems.append(f"{where}: expected {option.expected}, got {value!r}")
        return None
    if option.rule is not None:
        found = [("", problem)] if (problem := option.rule.sdk_problem(value)) else []
    else:
        found = list(class_problems(value, wire=False))
    for field_name, problem in found:
        problems.append(f"{where} {field_name}: {problem}" if field_name else f"{where}: {problem}")
    return None if found else normalised(value)


def _compile(problems: list[str], keyword: str, option: Option, value: object) -> object:
    if not option.many:
        return None if value is None else _item(problems, f"{keyword}=", option, value)
    if value is None:
        return ()
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(items) > option.many:
        problems.append(f"{keyword}=: at most {option.many} {option.noun}, got {len(items)}")
    compiled = []
    for index, item in enumerate(items):
        where = f"{keyword}=" if len(items) == 1 else f"{keyword}=[{index}]"
        compiled.append(_item(problems, where, option, item))
    return tuple(item for item in compiled if item is not None)


def compile_options(problems: list[str], options: Mapping[str, object]) -> dict[str, Any]:
    """The `FunctionSpec` fields for these option keywords; problems go to `problems`."""
    compiled = {
        attribute.name: _compile(problems, attribute.name, option, options.get(attribute.name))
        for attribute, option in option_fields()
    }
    if options.get("batch_events") is not None:
        for attribute, option in option_fields():
            if option.not_with_batch and options.get(attribute.name) not in (None, (), []):
                problems.append(
                    f"batch_events= cannot be combined with {attribute.name}=: "
                    f"{option.not_with_batch}"
                )
    return compiled
