"""Damaged checkpoints end in one clean sentence, never a traceback (issue 10, item 6).

Runs ``bench/checkpoint_fuzz.py`` (its docstring lists the damage kinds) on 520 variants of real
layouts written with the tiny ResNet; every outcome must be a load or an ``EvalsuiteError``
naming the file on one line.
"""

from __future__ import annotations

import runpy
import warnings
from pathlib import Path

FUZZ = Path(__file__).resolve().parents[1] / "bench" / "checkpoint_fuzz.py"


def test_fuzzed_checkpoints_give_clean_errors(tmp_path, one_thread):
    run = runpy.run_path(str(FUZZ), run_name="fuzz")["run"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation notes on quantized and sparse tensors
        outcomes, kinds, tracebacks = run(520, 0, tmp_path)
    assert tracebacks == [] and outcomes["tracebacks"] == 0
    assert outcomes["files tried"] >= 500
    assert outcomes["clean errors"] > 300 and outcomes["loads"] > 20  # both sides of the line are exercised
    assert {"bit_flips", "truncate", "non_dict_top"} <= set(kinds) and sum(k.startswith("tensor_") for k in kinds) >= 10
