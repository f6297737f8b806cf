"""The linear probe's features in the eigenbasis of their centred covariance: the same problem,
fewer and better-scaled unknowns.

For an L2-penalised linear model with an unpenalised intercept, the weights' optimum lies in the
row space of the centred features X_c = X - mean (the data term's gradient X_c^T R is in it, and
the penalty pulls every other component to zero; the mean goes into the intercept). So with V
(D, r) an orthonormal basis of that row space,

    x W + b = (x - mean) V Z + b',    W = V Z,    b = b' - mean W,    ||W||^2 = ||Z||^2,

an exact change of variables: the same objective, the same minimiser, r = rank(X_c) <= min(N, D)
unknowns per class instead of D. In this basis the data term's Hessian is diagonal at the start
(X_c^T X_c = V diag(lambda) V^T), so a preconditioner built from lambda (``evalsuite.tasks.logistic``)
fits the problem's scales to the first order; on raw (unstandardised, uncentred) features the
centring alone removes the intercept/weight coupling that makes plain L-BFGS crawl.

Cost: one D x D (D <= N) or N x N (D > N) symmetric eigendecomposition and one N x D x r product,
done once per fitted set (a sweep reuses it for all 45 penalties). Past ``MAX_RANK`` (where that
matrix alone would not fit in memory) the features are only centred, not rotated (``v`` None):
the same exact problem, the preconditioner then a first-order guess instead of the eigenbasis's.

At ImageNet scale (``evalsuite.tasks.probe_memory``) the mean, the D x D covariance and the
rotation are computed ``block_rows`` rows at a time in float64, and the rotated features may be
kept in float32 (``storage``): no N x D float64 copy is ever made.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: A direction whose singular value is below the largest times max(N, D) times this is rounding,
#: not signal, and is left out: numpy's ``matrix_rank`` default tolerance.
RANK_EPS = torch.finfo(torch.float64).eps

#: Largest min(N, D) whose eigendecomposition is attempted: a 16,384^2 float64 matrix is 2 GiB
#: (8,192-d features, a 4x-wide ResNet-50's, are well inside).
MAX_RANK = 16384


def _kept(lam: torch.Tensor, n: int, d: int) -> torch.Tensor:
    """(K,) eigenvalues of X_c^T X_c or X_c X_c^T -> which are squared singular values above rank tolerance."""
    return lam > lam.max().clamp(min=0) * (max(n, d) * RANK_EPS) ** 2


def _from_gram(gram: torch.Tensor, n: int) -> torch.Tensor:
    """(D, D) X_c^T X_c of N rows -> (D, r) orthonormal basis of the row space."""
    d = len(gram)
    lam, v = torch.linalg.eigh(gram)  # (D,), (D, D)
    v = v[:, _kept(lam, n, d)]  # (D, r)
    return v if v.shape[1] else gram.new_zeros(d, 1)


def _row_space(xc: torch.Tensor) -> torch.Tensor:
    """(N, D) centred features -> (D, r) orthonormal basis of their row space."""
    n, d = xc.shape
    if d <= n:
        return _from_gram(xc.T @ xc, n)
    lam, u = torch.linalg.eigh(xc @ xc.T)  # (N,), (N, N): through the Gram matrix, re-orthonormalised
    v = torch.linalg.qr(xc.T @ u[:, _kept(lam, n, d)]).Q  # (D, r)
    return v if v.shape[1] else xc.new_zeros(d, 1)  # constant features: only the intercept can fit


@dataclass(frozen=True)
class Basis:
    """Centred features in their eigenbasis.

    Attributes:
        mean: (1, D) the fitted set's feature mean.
        v: (D, r) orthonormal basis of the centred features' row space; None past ``MAX_RANK``
            (then r = D and xr is the centred features themselves).
        xr: (N, r) the centred features in that basis, ``(x - mean) @ v``.
        xr_t: (r, N) the transpose: a contiguous copy on a CPU (``xr.T @ R`` through a strided
            view was 4x slower there at 8,000 x 2,048), a view on a GPU (cuBLAS reads either);
            None when the set is used in blocks.
        lam: (r,) each direction's squared norm over the set, ``xr.square().sum(0)`` (the
            eigenvalues of X_c^T X_c, computed from xr itself so that they are exact for it).
        block_rows: rows per block in which the problem reads xr (0: all at once).
    """

    mean: torch.Tensor
    v: torch.Tensor | None
    xr: torch.Tensor
    xr_t: torch.Tensor | None
    lam: torch.Tensor
    block_rows: int = 0

    @classmethod
    def of(cls, x: torch.Tensor, dtype: torch.dtype = torch.float64, max_rank: int = MAX_RANK,
           storage: torch.dtype | None = None, block_rows: int = 0) -> "Basis":
        """The basis of x (N, D); computed in float64 whatever ``dtype`` the solve uses. ``storage``:
        the dtype xr is kept in (None: ``dtype``); ``block_rows``: rows per block (0: all at once)."""
        n, d = x.shape
        if block_rows and block_rows < n:
            return cls._in_blocks(x, dtype, max_rank, storage or dtype, block_rows)
        mean = x.to(torch.float64).mean(0, keepdim=True)  # (1, D)
        xc = x.to(torch.float64) - mean  # (N, D); one float64 copy at a time
        v = None if min(n, d) > max_rank else _row_space(xc)  # past max_rank: centred only
        xr = (xc if v is None else xc @ v).to(storage or dtype)  # (N, r)
        del xc
        xr_t = xr.T.contiguous() if xr.device.type == "cpu" else xr.T
        return cls(mean.to(dtype), None if v is None else v.to(dtype), xr, xr_t, xr.to(dtype).square().sum(0))

    @classmethod
    def _in_blocks(cls, x: torch.Tensor, dtype: torch.dtype, max_rank: int, storage: torch.dtype,
                   block_rows: int) -> "Basis":
        """``of`` with the sums over rows accumulated in float64 one block at a time (N > D here)."""
        n, d = x.shape
        blocks = [slice(i, i + block_rows) for i in range(0, n, block_rows)]
        mean = sum(x[b].to(torch.float64).sum(0, keepdim=True) for b in blocks) / n  # (1, D)
        v = None
        if min(n, d) <= max_rank:
            gram = x.new_zeros(d, d, dtype=torch.float64)
            for b in blocks:
                xc = x[b].to(torch.float64) - mean  # (B, D)
                gram += xc.T @ xc
            v = _from_gram(gram, n)  # (D, r)
            del gram
        xr = x.new_empty(n, d if v is None else v.shape[1], dtype=storage)  # (N, r)
        lam = x.new_zeros(xr.shape[1], dtype=torch.float64)
        for b in blocks:
            xc = x[b].to(torch.float64) - mean
            xr[b] = (xc if v is None else xc @ v).to(storage)
            lam += xr[b].to(torch.float64).square().sum(0)
        return cls(mean.to(dtype), None if v is None else v.to(dtype), xr, None, lam.to(dtype), block_rows)

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the problem is solved in (xr may be stored narrower)."""
        return self.mean.dtype

    @property
    def rank(self) -> int:
        return self.xr.shape[1]

    def to_basis(self, weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(G, D, C) weights and (G, C) biases -> their (G, r, C) and (G, C) counterparts.

        Weights outside the row space are dropped (they change no logit on the fitted set)."""
        weight, bias = weight.to(self.mean), bias.to(self.mean)
        return weight if self.v is None else self.v.T @ weight, bias + (self.mean @ weight)[:, 0]

    def from_basis(self, z: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(G, r, C) and (G, C) in the basis -> (G, D, C) weights and (G, C) biases on raw features."""
        weight = z if self.v is None else self.v @ z  # (G, D, C)
        return weight, bias - (self.mean @ weight)[:, 0]
