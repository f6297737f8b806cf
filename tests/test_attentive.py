"""The attentive probe (evalsuite/tasks/attentive.py) and the tokens it reads (evalsuite/tokens.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import evalsuite
from evalsuite.archs.build import build_backbone
from evalsuite.errors import EvalsuiteError
from evalsuite.tokens import heads_of, token_sequence
from timm.layers import build_sincos2d_pos_embed

CELL, GRID = 16, 4  # 64 px images, a 4 x 4 grid of 16-px cells: one ViT patch each


def where_folder(root, n_train: int = 32, n_test: int = 64):
    """imagefolder ``split/{left,right}/i.png``: grey noise with one white cell-aligned square; the
    class is the half it is in. Every image holds the same square, so the mean of any position-wise
    linear map of its patches is the same wherever the square is: only noise tells images apart."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        for label in ("left", "right"):
            (root / split / label).mkdir(parents=True)
            for i in range(n):
                img = np.clip(rng.normal(60, 12, (GRID * CELL, GRID * CELL, 3)), 0, 255)
                row, col = rng.integers(GRID), rng.integers(GRID // 2) + (GRID // 2 if label == "right" else 0)
                img[row * CELL:(row + 1) * CELL, col * CELL:(col + 1) * CELL] = 240
                Image.fromarray(img.astype(np.uint8)).save(root / split / label / f"{i}.png")
    return root


def embedding_only_vit() -> nn.Module:
    """A ViT-Tiny/16 cut after its patch and position embeddings (no blocks, no final norm), the
    position embeddings MAE's fixed 2-D sin-cos ones: each token is W x patch + b + pos, so its
    average pooling is blind to where the square is, and a token still says where it is."""
    torch.manual_seed(0)
    model = build_backbone("vit_tiny_patch16")
    model.blocks, model.norm = nn.Sequential(), nn.Identity()
    with torch.no_grad():
        model.pos_embed[0, 1:] = build_sincos2d_pos_embed([14, 14], 192).reshape(-1, 192)  # (196, 192)
    return model


def test_attentive_probe_reads_where_the_pooled_linear_probe_cannot(tmp_path, one_thread):
    data = f"imagefolder:{where_folder(tmp_path / 'where')}"
    df = evalsuite.evaluate(embedding_only_vit(), datasets=data, tasks=["linear", "attentive"], name="vit-embed",
                            device="cpu", quiet=True, cache_dir=str(tmp_path / "cache"),
                            cfg_options={"features.mode": "avgpool", "features.resize": "native",
                                         "attentive.batch_size": 8, "attentive.epochs": 12,
                                         "attentive.lrs": [1e-3, 3e-3], "attentive.wds": [1e-3]})
    scores = dict(zip(df["task"], df["value"]))
    # chance is 0.5; 128 test images put the pooled probe within a few points of it
    assert scores["linear"] <= 0.65, scores
    assert scores["attentive"] >= 0.9, scores
    assert scores["attentive"] - scores["linear"] >= 0.3, scores
    row = df[df["task"] == "attentive"].iloc[0]
    assert row["extra"]["tokens"]["store"] == "cached fp16" and row["extra"]["tokens"]["shape"] == [1 + GRID * GRID, 192]
    assert row["extra"]["attention_heads"] == 3 and row["chosen"]["lr"] in (1e-3, 3e-3)


def test_tokens_of_a_vit_and_a_resnet():
    vit = build_backbone("vit_tiny_patch16_reg4").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        full = vit.forward_features(x)  # (2, 1 + 4 + 4, 192)
        tokens = token_sequence(vit, x)
        assert torch.equal(tokens, torch.cat([full[:, :1], full[:, 5:]], 1))  # registers left out
        blocks = vit.forward_intermediates(x, indices=3, norm=False, output_fmt="NLC", intermediates_only=True)
        aim = token_sequence(vit, x, layers=3)  # AIM: the last blocks' outputs averaged, no final norm
        assert torch.allclose(aim[:, 1:], torch.stack(blocks).mean(0), atol=1e-6)
    assert heads_of(vit, 192) == 3
    resnet = build_backbone("resnet18").eval()
    with torch.no_grad():
        assert token_sequence(resnet, torch.randn(1, 3, 64, 64)).shape == (1, 4, 512)  # 2 x 2 map at stride 32
    assert heads_of(resnet, 512) == 8
    with pytest.raises(EvalsuiteError, match="averages ViT blocks"):
        token_sequence(resnet, x, layers=2)


def test_tokens_on_the_fly_match_the_cache_and_the_row_says_which(tmp_path, one_thread):
    from test_contracts import colour_folder

    data = f"imagefolder:{colour_folder(tmp_path / 'colours')}"
    common = dict(arch="resnet_tiny", datasets=data, tasks=["attentive"], device="cpu", quiet=True,
                  cache_dir=str(tmp_path / "cache"))
    options = {"attentive.epochs": 2, "attentive.batch_size": 8, "attentive.lrs": [1e-3], "attentive.wds": [1e-3]}
    cached = evalsuite.evaluate("random", cfg_options=options, **common).iloc[0]
    live = evalsuite.evaluate("random", cfg_options={**options, "attentive.cache_budget_gb": 0.0}, **common).iloc[0]
    assert cached["extra"]["tokens"]["store"] == "cached fp16" and live["extra"]["tokens"]["store"] == "on the fly"
    assert abs(cached["value"] - live["value"]) <= 1 / 12  # fp16 rounding may flip one of 12 test images at most


def test_bad_attentive_settings_are_one_sentence(tmp_path):
    with pytest.raises(EvalsuiteError, match="queries"):
        evalsuite.evaluate("random", arch="resnet_tiny", datasets="digits", tasks=["attentive"], device="cpu",
                           quiet=True, cfg_options={"attentive.queries": 17})
    with pytest.raises(EvalsuiteError, match="unknown head 'dino'; valid heads are: vjepa, aim"):
        evalsuite.evaluate("random", arch="resnet_tiny", datasets="digits", tasks=["attentive"], device="cpu",
                           quiet=True, cfg_options={"attentive.head": "dino"})


def test_tokens_with_nan_are_refused_and_nothing_is_cached(tmp_path, monkeypatch, one_thread):
    """A backbone whose tokens hold NaN: one sentence, and no token file (nor its temp) left behind."""
    import evalsuite.tokens as tokens

    real = tokens.token_sequence

    def broken(model, x, layers=1):
        out = real(model, x, layers).clone()
        out[0, 0, 0] = float("nan")
        return out

    monkeypatch.setattr(tokens, "token_sequence", broken)
    cache = tmp_path / "cache"
    with pytest.raises(EvalsuiteError, match=r"^tokens of 1 of \d+ images in a batch hold NaN or inf"):
        evalsuite.evaluate("random", arch="resnet_tiny", datasets="digits", tasks=["attentive"], device="cpu",
                           quiet=True, cache_dir=str(cache), cfg_options={"attentive.epochs": 1})
    assert not [p for p in (cache / "tokens").rglob("*") if p.is_file()]


def test_tokens_beyond_float16_are_not_cached_in_float16():
    from evalsuite.tokens import check_tokens

    check_tokens(torch.full((2, 3, 4), 7e4))  # on the fly in float32: fine
    with pytest.raises(EvalsuiteError, match="exceed float16's range"):
        check_tokens(torch.full((2, 3, 4), 7e4), fp16=True)
