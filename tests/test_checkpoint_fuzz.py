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


def test_every_dtype_torch_and_numpy_can_store_gives_a_load_or_a_clean_error(tmp_path, one_thread):
    """A weight of every dtype torch can store (float8/float4, complex, quantized, bool, uint16-64,
    bits) in a state dict, and an array of every numpy dtype (longdouble, clongdouble, strings,
    objects, datetimes, structured, big-endian) in a detectron2 ``.pkl``, a ``torch.save``d dict of
    arrays and an ``np.savez`` archive: only the training precisions load (cast to the arch's
    float32), everything else is one sentence naming the file."""
    module = runpy.run_path(str(FUZZ), run_name="fuzz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcomes, kinds, tracebacks = module["dtype_sweep"](tmp_path)
    assert tracebacks == [] and outcomes["tracebacks"] == 0
    swept = {k.split(" in ")[0] for k in kinds}
    must = {"torch float8_e4m3fn", "torch float8_e5m2", "torch float8_e4m3fnuz", "torch float8_e5m2fnuz",
            "torch complex64", "torch qint8", "torch quint8", "torch bool", "torch uint16", "torch uint32",
            "torch uint64", "numpy float128", "numpy complex256", "numpy object", "numpy <U4", "numpy bool"}
    assert must <= swept, must - swept
    assert {f"numpy float128 in {s}" for s in (".pkl", ".pth", ".npz")} <= set(kinds)
    # what loads: fp16/bf16/fp32/fp64 in torch; float16/32/64 numpy arrays, either byte order, in .pkl and .pth
    assert outcomes["loads"] == 4 + 6 * 2, outcomes
