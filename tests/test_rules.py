"""A value rule lives on the field it guards: declaring a field with ``ruled`` is all a new
component needs, and two unrelated fields that share a name no longer share a rule."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from evalsuite.errors import EvalsuiteError
from evalsuite.rules import AT_LEAST_1, NON_DECREASING, UNIT, ruled
from evalsuite.schema import check_fields, check_recipe_options


@dataclass(frozen=True)
class NewProbe:
    rounds: int = ruled(3, AT_LEAST_1)
    keep: tuple[float, float] = ruled((0.2, 0.8), UNIT, NON_DECREASING)
    lr: float = -1.0  # a field with no rule: another class's 'lr' rule does not apply here


def test_a_declared_rule_is_checked_and_an_undeclared_name_is_not():
    check_fields(NewProbe, {"rounds": 2, "keep": [0.1, 0.9], "lr": -3.0}, "probe")
    with pytest.raises(EvalsuiteError, match=r"setting probe.rounds=0 is not valid; rounds must be at least 1"):
        check_fields(NewProbe, {"rounds": 0}, "probe")
    with pytest.raises(EvalsuiteError, match=r"keep must be between 0 and 1"):
        check_fields(NewProbe, {"keep": [0.5, 1.5]}, "probe")
    with pytest.raises(EvalsuiteError, match=r"the values of keep must not decrease"):
        check_fields(NewProbe, {"keep": [0.9, 0.1]}, "probe")


def test_recipe_rules_sit_with_the_trainer_and_the_method():
    recipe = {"epochs": 2, "optimizer": {"type": "SGD", "lr": 0.1}, "method": {"type": "simclr", "temperature": 0.5}}
    with pytest.raises(EvalsuiteError, match="epochs must be at least 1"):
        check_recipe_options(recipe, {"epochs": 0})
    with pytest.raises(EvalsuiteError, match="lr must be greater than 0"):
        check_recipe_options(recipe, {"optimizer.lr": 0.0})
    with pytest.raises(EvalsuiteError, match="temperature must be greater than 0"):
        check_recipe_options(recipe, {"method.temperature": -1.0})
