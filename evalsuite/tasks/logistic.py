"""The linear probe's objective in the features' eigenbasis: values, gradients and a Kronecker
preconditioner, for G penalties side by side.

    f_g(Z, b) = mean_i CE(xr_i Z + b, y_i) + wd_g / (2 n) ||Z||^2

with xr the centred features in the eigenbasis of ``evalsuite.tasks.eigenbasis`` (W = V Z: the
same minimiser as on the raw features). CE is the softmax cross-entropy, or the sum of per-class
sigmoid cross-entropies for multi-label sets.

Preconditioner. The data term's Hessian is (1 / n) sum_i (xr_i xr_i^T) (x) H_i, with H_i the
per-sample curvature in the logits (diag(p_i) - p_i p_i^T for a softmax, diag(p_i (1 - p_i)) for
sigmoids). Replacing each H_i by their mean A gives (diag(lambda) / n) (x) A + wd / n on the
weights and A on the intercepts, exact when the curvature does not vary with the features and
inverted in closed form through A's eigenvectors (the Kronecker-factored approximation of
Martens & Grosse 2015, K-FAC, Sec. 3, here with one factor already diagonal). Refreshed at every
evaluation from that evaluation's probabilities, it keeps the class coupling that a diagonal
estimate drops, and so needs fewer L-BFGS iterations per sweep than the Hessian's exact diagonal
in this basis (measured in bench/RESULTS.md, "Linear probe: convergence and speed against scikit-learn").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from evalsuite.datasets.base import training_targets
from evalsuite.tasks.eigenbasis import Basis

#: On the intercepts, curvature eigenvalues of A are floored at this fraction of the largest: the
#: softmax's all-ones direction has none (logits are shift-invariant), and its gradient is zero
#: there. (The weights need no floor: their penalty keeps every direction curved.)
CURVATURE_FLOOR = 1e-6


class LogisticProblem:
    """G penalised logistic regressions on one feature set, parameters theta (G, r*C + C).

    Args:
        basis: the features' eigenbasis (N samples, r directions).
        targets: (N,) class indices, or (N, C) of 1 / 0 / ``IGNORE`` for ``multilabel``; an
            ignored pair is fitted as a negative (``evalsuite.datasets.base.training_targets``).
        wds: the G penalties.
        num_classes: C.
        multilabel: per-class sigmoids instead of one softmax.
    """

    def __init__(self, basis: Basis, targets: torch.Tensor, wds: list[float], num_classes: int,
                 multilabel: bool = False) -> None:
        self.basis, self.multilabel = basis, multilabel
        self.dtype, device = basis.dtype, basis.xr.device
        self.n, self.r = basis.xr.shape
        self.g, self.c = len(wds), num_classes
        self.wd = torch.tensor(wds, dtype=self.dtype, device=device)  # (G,)
        self.targets = targets.to(device)
        self.block = basis.block_rows or self.n  # rows per block: an (N, C) one-hot at 1.28M x 1,000 is 10 GB
        self.onehot = None
        if self.block >= self.n:
            self.onehot = self._onehot(slice(0, self.n))  # (N, C), kept whole when the set is one block

    def _onehot(self, rows: slice) -> torch.Tensor:
        """The fitted targets of ``rows`` as (B, C) of 1 / 0 in the solve's dtype."""
        if self.onehot is not None:
            return self.onehot[rows]
        t = self.targets[rows]
        return (training_targets(t) if self.multilabel else F.one_hot(t, self.c)).to(self.dtype)

    def split(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """theta (G, r*C + C) -> weights Z (G, r, C) and intercepts (G, C)."""
        return theta[:, : self.r * self.c].view(self.g, self.r, self.c), theta[:, self.r * self.c:]

    def join(self, z: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return torch.cat([z.reshape(len(z), self.r * self.c), bias.reshape(len(bias), self.c)], 1)

    def __call__(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """theta -> objectives (G,), gradients (G, r*C + C), curvature statistics (G, C+1, C).

        Gradients in closed form (d CE / d logits = p - y for softmax and sigmoid alike): autograd's
        bookkeeping cost more than the two products on small problems. The sums over samples run
        ``self.block`` rows at a time, accumulated in the solve's dtype (float64 by default), so
        the (N, G, C) logits never exist whole."""
        n, r, g, c, wd = self.n, self.r, self.g, self.c, self.wd
        z, bias = self.split(theta)
        zf = z.permute(1, 0, 2).reshape(r, g * c)  # (r, G*C)
        data, grad, resid_sum = theta.new_zeros(g), theta.new_zeros(r, g * c), theta.new_zeros(g, c)
        prob_sum, curv_sum = theta.new_zeros(g, c), theta.new_zeros(g, c) if self.multilabel else theta.new_zeros(g, c, c)
        for start in range(0, n, self.block):
            rows = slice(start, start + self.block)
            xb, onehot = self.basis.xr[rows].to(self.dtype), self._onehot(rows)  # (B, r), (B, C)
            logits = (xb @ zf).view(len(xb), g, c) + bias  # (B, G, C)
            if self.multilabel:
                data += (F.softplus(logits) - onehot[:, None] * logits).sum((0, 2))
                prob = torch.sigmoid(logits)  # (B, G, C)
                curv_sum += (prob * (1 - prob)).sum(0)
            else:
                lse = logits.logsumexp(2, keepdim=True)  # (B, G, 1)
                data += (lse[..., 0] - (logits * onehot[:, None]).sum(2)).sum(0)
                prob = (logits - lse).exp_()  # (B, G, C)
                curv_sum += torch.einsum("ngc,ngd->gcd", prob, prob)
            del logits
            resid = prob - onehot[:, None]  # (B, G, C)
            if self.block >= n and self.basis.xr_t is not None:
                xt = self.basis.xr_t  # (r, N)
            else:  # a contiguous transpose on a CPU (``Basis.xr_t``)
                xt = xb.T.contiguous() if xb.device.type == "cpu" else xb.T  # (r, B)
            grad += xt @ resid.view(-1, g * c)
            resid_sum += resid.sum(0)
            prob_sum += prob.sum(0)
        values = data / n + wd / (2 * n) * z.pow(2).sum((1, 2))  # (G,)
        grad_z = grad.view(r, g, c).permute(1, 0, 2) / n + wd.view(g, 1, 1) / n * z
        return values, self.join(grad_z, resid_sum / n), self.curvature(prob_sum / n, curv_sum / n)

    def curvature(self, prob_mean: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Mean probabilities (G, C) and the mean p (1 - p) (G, C; multi-label) or mean p p^T
        (G, C, C; softmax) -> (G, C+1, C): the eigenvalues (row 0) and eigenvectors of A, the mean
        per-sample curvature in the logits (module docstring)."""
        if self.multilabel:
            alpha = second  # (G, C)
            vectors = torch.eye(self.c, dtype=second.dtype, device=second.device).expand(self.g, -1, -1)
        else:
            alpha, vectors = torch.linalg.eigh(torch.diag_embed(prob_mean) - second)  # (G, C, C)
        return torch.cat([alpha[:, None], vectors], 1)

    def precondition(self, stats: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """M v for v (G, r*C + C), M the inverse of the Kronecker Hessian estimate (module docstring)."""
        alpha, q = stats[:, 0].clamp(min=0), stats[:, 1:]  # (G, C), (G, C, C)
        vz, vb = self.split(v)
        vz = (vz @ q) / (self.basis.lam.view(1, -1, 1) * alpha[:, None] / self.n + self.wd.view(-1, 1, 1) / self.n)
        floor = alpha.amax(1, keepdim=True).clamp(min=torch.finfo(alpha.dtype).tiny) * CURVATURE_FLOOR
        vb = (vb[:, None] @ q)[:, 0] / alpha.clamp(min=floor)  # (G, C)
        return self.join(vz @ q.transpose(1, 2), (vb[:, None] @ q.transpose(1, 2))[:, 0])

    def penalty_scale(self, theta: torch.Tensor) -> torch.Tensor:
        """(G,) the norm of each penalty's gradient, wd / n * ||W|| (= ||Z||: V is orthonormal)."""
        return self.wd / self.n * self.split(theta)[0].flatten(1).norm(dim=1)

    def start(self, candidates: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """The best of zero and each candidate (weights (1 or G, D, C), intercepts (1 or G, C) on
        raw features), per problem by objective: warm starts are verified, not trusted."""
        best = self.basis.xr.new_zeros(self.g, self.r * self.c + self.c, dtype=self.dtype)
        best_value = self(best)[0]
        for weight, bias in candidates:
            z, b = self.basis.to_basis(weight, bias)
            theta = self.join(z, b).expand(self.g, -1) if len(z) == 1 else self.join(z, b)
            value = self(theta)[0]
            better = value < best_value  # (G,)
            best, best_value = torch.where(better[:, None], theta, best), torch.where(better, value, best_value)
        return best
