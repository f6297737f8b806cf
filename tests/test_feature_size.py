"""The backbone's feature size is checked against (or learned from) its first batch."""

import pytest
import torch

from evalsuite.archs import build_backbone
from evalsuite.cli import main
from evalsuite.errors import EvalsuiteError
from evalsuite.imaging import forward_batches
from evalsuite.results import read_rows

CPU = torch.device("cpu")


def _batches(side: int, n: int = 2):
    return [torch.randint(0, 255, (n, 3, side, side), dtype=torch.uint8)]


def test_an_undeclared_size_is_learned_from_the_first_batch():
    model = build_backbone("tests.fixtures.plain_arch:pooled").eval()
    assert model.num_features is None
    assert forward_batches(model, _batches(8), CPU).shape == (2, 5)
    assert model.num_features == 5


def test_a_wrong_declared_size_is_one_sentence_at_the_first_batch():
    model = build_backbone("tests.fixtures.plain_arch:misdeclared").eval()
    assert forward_batches(model, _batches(8), CPU).shape == (2, 192)
    with pytest.raises(EvalsuiteError, match=r"declares num_features=192 but its forward gives 150528 values per image"):
        forward_batches(model, _batches(224, 1), CPU)


def test_spatial_output_is_refused():
    model = build_backbone("tests.fixtures.plain_arch:spatial").eval()
    with pytest.raises(EvalsuiteError, match=r"must give \(N, D\) features"):
        forward_batches(model, _batches(8), CPU)


def test_plain_callable_evaluates_without_num_features(tmp_path):
    torch.manual_seed(0)
    torch.save(build_backbone("tests.fixtures.plain_arch:pooled").state_dict(), tmp_path / "x.pth")
    assert main(["eval", str(tmp_path / "x.pth"), "--arch", "tests.fixtures.plain_arch:pooled", "--tasks", "knn,linear",
                 "--results", str(tmp_path / "r"), "--quiet", "--resolution", "native", "--cfg-options", "linear.wd_num=3"]) == 0
    rows = read_rows(tmp_path / "r")
    # measured kNN 0.528, linear 0.537 (2026-12-07, 2-core CPU); bounds 0.1 below, far above chance
    # (0.1), so a broken kNN or probe fails
    assert {r["task"] for r in rows} == {"knn", "linear"} and all(r["value"] > 0.43 for r in rows)
