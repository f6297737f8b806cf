"""The task interface: everything the runner, the schema, the report and the tests read from a task.

A task is a frozen dataclass registered in ``evalsuite.registry.TASKS``. Its fields are its
settings: the schema checks a suite's keys and values against them (``evalsuite.rules.ruled``
metadata), the runner builds it from them by keyword, and every field lands in the result row and
its protocol id (``evalsuite.tasks.base.settings_of``). Besides ``run``, it may state the class
attributes below; ``hook`` reads one, and ``DEFAULTS`` holds what a task that states none gets,
in this one place.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Protocol

from evalsuite.tasks.base import PROCESSES, DataStep, TaskContext, TaskOutput


class Task(Protocol):
    """What a registered task provides. The class attributes are optional (one left out takes its
    ``DEFAULTS`` value), so ``contract_errors``, not ``isinstance``, is the check."""

    #: How it runs under ``--launcher`` (``evalsuite.tasks.base.PROCESSES``); None: refused there.
    processes: ClassVar[str | None]
    #: Where its columns stand in report tables (``evalsuite.report.tables``), lowest first.
    REPORT_ORDER: ClassVar[float]
    #: The smallest settings that run every code path (tests/test_contracts.py); not a protocol.
    SMOKE: ClassVar[dict]
    #: How the runner makes a dataset ready for it; None: the feature pipeline
    #: (``evalsuite.features.feature_step``), which gives an ``EvalContext``.
    data_step: ClassVar[DataStep | None]

    def run(self, ctx: TaskContext) -> TaskOutput:
        """One (checkpoint, dataset, seed): the scores and what was chosen on validation data."""
        ...


#: Each optional hook and what a task that does not state it gets.
DEFAULTS = {"processes": None, "REPORT_ORDER": float("inf"), "SMOKE": {}, "data_step": None}


def hook(task, name: str):
    """A task's (class's or instance's) ``name`` hook, or its default from ``DEFAULTS``."""
    if name not in DEFAULTS:
        raise KeyError(f"{name!r} is not a task hook; the hooks are: {', '.join(DEFAULTS)}")
    return getattr(task, name, DEFAULTS[name])


def contract_errors(cls) -> list[str]:
    """What keeps a task class from meeting ``Task`` (empty when it does), one sentence each."""
    errors = []
    if not (dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen):
        errors.append("it is not a frozen dataclass (its fields are its settings)")
    if not callable(getattr(cls, "run", None)):
        errors.append("it has no run(ctx) method")
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    if hook(cls, "processes") not in (*PROCESSES, None):
        errors.append(f"processes={hook(cls, 'processes')!r} is not one of {PROCESSES} or None")
    if not isinstance(hook(cls, "REPORT_ORDER"), (int, float)):
        errors.append(f"REPORT_ORDER={hook(cls, 'REPORT_ORDER')!r} is not a number")
    if set(hook(cls, "SMOKE")) - fields:
        errors.append(f"SMOKE names {sorted(set(hook(cls, 'SMOKE')) - fields)}, which are not its fields")
    if hook(cls, "data_step") is not None and not callable(hook(cls, "data_step")):
        errors.append("data_step is not a function (dataset_name, session) -> Prepared")
    return errors
