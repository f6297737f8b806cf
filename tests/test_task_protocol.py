"""Every registered task meets the written task interface (``evalsuite.tasks.protocol.Task``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from evalsuite.registry import TASKS, get, names
from evalsuite.tasks.protocol import DEFAULTS, contract_errors, hook


@pytest.mark.parametrize("name", names(TASKS))
def test_every_registered_task_meets_the_protocol(name):
    cls = get(TASKS, name)
    assert contract_errors(cls) == [], f"task {name!r}: {'; '.join(contract_errors(cls))}"
    assert callable(cls().run)  # every task builds from its defaults alone


def test_a_task_that_breaks_the_protocol_is_named_and_hooks_default_in_one_place():
    @dataclass  # not frozen, no run, a smoke key that is no field, a launcher mode that does not exist
    class Broken:
        epochs: int = 1
        processes = "some"
        SMOKE = {"epoch": 1}

    errors = contract_errors(Broken)
    assert len(errors) == 4 and "frozen" in errors[0] and "run" in errors[1], errors
    assert "'some'" in errors[2] and "['epoch']" in errors[3], errors
    assert [hook(object, k) for k in DEFAULTS] == [None, float("inf"), {}, None]
    with pytest.raises(KeyError, match="'distributed' is not a task hook"):
        hook(Broken, "distributed")
