"""Registered archs and ``--arch pkg.module:callable``: the backbone contract for each."""

import pytest
import torch

from evalsuite.archs import build_backbone
from evalsuite.archs.vit import is_vit_name
from evalsuite.cli import main
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import ARCHS, names
from evalsuite.results import read_rows


@pytest.mark.parametrize("arch", names(ARCHS))
def test_every_registered_arch_gives_n_by_d_features(arch):
    vit = is_vit_name(arch)  # ViT-L/H on the meta device: shapes only (tests/test_layouts_vit.py runs real ViTs)
    with torch.device("meta" if vit else "cpu"):
        model = build_backbone(arch).eval()
        side = 32 if model.small_input else 112 if vit else 64  # 112: a multiple of every ViT patch (8, 14, 16)
        with torch.no_grad():
            out = model(torch.randn(2, 3, side, side))
    assert out.shape == (2, model.num_features)
    assert not any(k.startswith("fc.") for k in model.state_dict())


def test_classifier_callable_loses_its_head():
    model = build_backbone("tests.fixtures.custom_arch:classifier")
    assert model.num_features == 6 and isinstance(model.fc, torch.nn.Identity)
    assert model(torch.randn(3, 3, 8, 8)).shape == (3, 6)


@pytest.mark.parametrize("spec, message", [
    ("tests.fixtures.custom_arch:missing", "cannot import arch"),
    ("no_such_module:f", "cannot import arch"),
    ("tests.fixtures.custom_arch:not_a_module", "returned int, not an nn.Module"),
])
def test_bad_custom_arch_is_a_clear_error(spec, message):
    with pytest.raises(EvalsuiteError, match=message):
        build_backbone(spec)


def test_custom_arch_checkpoint_evaluates(tmp_path):
    torch.manual_seed(0)
    torch.save(build_backbone("tests.fixtures.custom_arch:extractor").state_dict(), tmp_path / "x.pth")
    assert main(["eval", str(tmp_path / "x.pth"), "--arch", "tests.fixtures.custom_arch:extractor", "--tasks", "knn",
                 "--results", str(tmp_path / "r"), "--quiet"]) == 0
    (row,) = read_rows(tmp_path / "r")
    # measured 0.400 (kNN top1@k=20, 2026-12-07, 2-core CPU); 0.1 below that, and 3x chance (0.1):
    # a kNN voting with the wrong labels or neighbours lands near chance
    assert row["checkpoint"]["arch"] == "tests.fixtures.custom_arch:extractor" and row["value"] > 0.3
