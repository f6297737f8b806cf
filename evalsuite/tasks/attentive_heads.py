"""The two attentive-probe heads: tokens (B, T, C) -> one pooled vector (B, C) -> logits (B, K).

- ``vjepa``: V-JEPA's attentive pooler (Bardes et al. 2024, 'Revisiting Feature Prediction for
  Learning Visual Representations from Video', its frozen evaluation; facebookresearch/jepa,
  ``src/models/attentive_pooler.py`` and ``src/models/utils/modules.py``): learnable queries, one
  pre-norm cross-attention block (LayerNorm on the tokens, query/key-value projections with bias,
  an output projection, a residual), then a pre-norm MLP of ratio 4 with a residual; as many heads
  as the encoder. Weights truncated-normal with std 0.02, biases 0, the two residual-branch output
  layers divided by sqrt(2) (its ``_rescale_blocks`` for layer 1).
- ``aim``: AIM's attentive probe (El-Nouby et al. 2024, 'Scalable Pre-training of Large
  Autoregressive Image Models', its attentive probing; apple/ml-aim, ``aim-v1/aim/v1/torch/layers.py``
  ``AttentionPoolingClassifier``): BatchNorm without affine parameters (eps 1e-6) over the tokens'
  channels, key and value projections without bias, the query used as it is (std 0.02), no MLP.

With several queries the queries' outputs are averaged before the classifier, as AIM's probe does
(``average_pool``); V-JEPA's classifier has one query. The classifier is ``nn.Linear`` with
PyTorch's default initialisation, as both heads build it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

HEADS = ("vjepa", "aim")


def _split(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, L, C) -> (B, heads, L, C / heads)."""
    return x.reshape(x.shape[0], x.shape[1], heads, -1).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    """(B, heads, L, C / heads) -> (B, L, C)."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1)


class CrossAttentionPool(nn.Module):
    """V-JEPA's pooler (module docstring)."""

    def __init__(self, dim: int, heads: int, queries: int, mlp_ratio: float = 4.0, init_std: float = 0.02) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Parameter(torch.zeros(1, queries, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q, self.kv, self.proj = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        nn.init.trunc_normal_(self.query, std=init_std)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=init_std)
                nn.init.zeros_(m.bias)
        with torch.no_grad():  # residual-branch outputs of block 1 scaled by 1 / sqrt(2 x 1)
            self.proj.weight.div_(math.sqrt(2.0))
            self.mlp[2].weight.div_(math.sqrt(2.0))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, C)
        q = self.query.expand(len(tokens), -1, -1)  # (B, Q, C)
        k, v = self.kv(self.norm1(tokens)).chunk(2, dim=-1)  # (B, T, C) each
        attended = F.scaled_dot_product_attention(_split(self.q(q), self.heads), _split(k, self.heads),
                                                  _split(v, self.heads))  # (B, heads, Q, C / heads)
        q = q + self.proj(_merge(attended))
        q = q + self.mlp(self.norm2(q))  # (B, Q, C)
        return q.mean(1)


class BatchNormPool(nn.Module):
    """AIM's pooler (module docstring)."""

    def __init__(self, dim: int, heads: int, queries: int, init_std: float = 0.02) -> None:
        super().__init__()
        self.heads = heads
        self.bn = nn.BatchNorm1d(dim, affine=False, eps=1e-6)
        self.k, self.v = nn.Linear(dim, dim, bias=False), nn.Linear(dim, dim, bias=False)
        self.query = nn.Parameter(torch.randn(1, queries, dim) * init_std)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, C)
        x = self.bn(tokens.transpose(1, 2)).transpose(1, 2)  # statistics over batch and tokens, per channel
        q = self.query.expand(len(tokens), -1, -1)  # (B, Q, C)
        attended = F.scaled_dot_product_attention(_split(q, self.heads), _split(self.k(x), self.heads),
                                                  _split(self.v(x), self.heads))  # (B, heads, Q, C / heads)
        return _merge(attended).mean(1)


def build_head(kind: str, dim: int, heads: int, queries: int, classes: int, mlp_ratio: float,
               init_std: float) -> nn.Module:
    """Pooler then linear classifier: tokens (B, T, C) -> logits (B, classes)."""
    if kind == "aim":
        pool = BatchNormPool(dim, heads, queries, init_std)
    else:
        pool = CrossAttentionPool(dim, heads, queries, mlp_ratio, init_std)
    return nn.Sequential(pool, nn.Linear(dim, classes))
