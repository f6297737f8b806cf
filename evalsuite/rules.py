"""Value rules declared on the dataclass field they guard, so a new component's settings are
checked by declaring them: ``ks: tuple[int, ...] = ruled((10, 20), AT_LEAST_1)``.

``evalsuite.schema`` reads a field's rules from its metadata (``rules_of``) when it checks a suite
or recipe, before any work; a tuple value is checked element by element unless the rule is
``whole`` (``NON_DECREASING``). Keys that are no dataclass field (a pre-training recipe's own keys,
a method's constructor arguments) declare theirs in a dict beside the code that reads them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Rule:
    """``test(value) -> bool`` and what is valid, in words ('at least 1')."""

    test: Callable
    text: str
    whole: bool = False  # tests the whole list rather than each number in it


AT_LEAST_1 = Rule(lambda v: v >= 1, "at least 1")
AT_LEAST_0 = Rule(lambda v: v >= 0, "at least 0")
POSITIVE = Rule(lambda v: v > 0, "greater than 0")
UNIT = Rule(lambda v: 0 <= v <= 1, "between 0 and 1")
WORKERS = Rule(lambda v: v >= -1, "-1 (automatic) or at least 0")
NON_DECREASING = Rule(lambda vs: all(b >= a for a, b in zip(vs, vs[1:])), "non-decreasing", whole=True)


def ruled(default, *rules: Rule, **metadata):
    """A dataclass field with ``default`` and the value ``rules`` it must meet."""
    return dataclasses.field(default=default, metadata={"rules": rules, **metadata})


def rules_of(f: dataclasses.Field) -> tuple[Rule, ...]:
    return f.metadata.get("rules", ())


def broken(value, rules: tuple[Rule, ...]) -> Rule | None:
    """The first of ``rules`` that ``value`` (a number, or a list of them) breaks, else None."""
    items = value if isinstance(value, (tuple, list)) else [value]
    numbers = [v for v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]
    for rule in rules:
        if rule.whole:
            if isinstance(value, (tuple, list)) and len(numbers) == len(items) and not rule.test(list(numbers)):
                return rule
        elif not all(rule.test(v) for v in numbers):
            return rule
    return None
