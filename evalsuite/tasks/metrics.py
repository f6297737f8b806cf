"""Scores from predictions: top-1, mean per-class accuracy, 11-point mAP.

Mean per-class accuracy is what Kornblith et al. 2019 (Sec. 3) report for FGVC Aircraft,
Caltech-101, Oxford Flowers and Oxford-IIIT Pets; 11-point interpolated mAP is the VOC2007
classification metric (Everingham et al. 2010, Sec. 4.2).
"""

from __future__ import annotations

import torch


def top1(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """scores (N, C), labels (N,) -> fraction whose argmax is the label."""
    return (scores.argmax(1) == labels).float().mean().item()


def mean_per_class(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of each class present in ``labels``, averaged over classes."""
    correct = (scores.argmax(1) == labels).float()
    classes = labels.unique()
    return torch.stack([correct[labels == c].mean() for c in classes]).mean().item()


def average_precision_11(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """scores (N,), binary targets (N,) -> VOC07 11-point interpolated average precision."""
    order = scores.argsort(descending=True)
    hits = targets[order].float()
    tp = hits.cumsum(0)
    precision = tp / torch.arange(1, len(hits) + 1, dtype=torch.float32)
    recall = tp / hits.sum().clamp(min=1)
    points = []
    for t in torch.linspace(0, 1, 11):
        mask = recall >= t - 1e-9
        points.append(precision[mask].max() if mask.any() else torch.tensor(0.0))
    return torch.stack(points).mean().item()


def map11(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """scores (N, C), multi-hot targets (N, C) -> mean over classes with a positive of AP-11."""
    aps = [average_precision_11(scores[:, c], targets[:, c]) for c in range(targets.shape[1]) if targets[:, c].any()]
    return float(sum(aps) / len(aps))


SCORERS = {"top1": top1, "mean_per_class": mean_per_class, "map11": map11}


def score(metric: str, scores: torch.Tensor, targets: torch.Tensor) -> float:
    return SCORERS[metric](scores.float().cpu(), targets.cpu())
