"""Scores from predictions: top-1, mean per-class accuracy, 11-point mAP, area mAP.

Mean per-class accuracy is what Kornblith et al. 2019 (Sec. 3) report for FGVC Aircraft,
Caltech-101, Oxford Flowers and Oxford-IIIT Pets; 11-point interpolated mAP is the VOC2007
classification metric (Everingham et al. 2010, Sec. 4.2). Its (image, class) pairs marked
``IGNORE`` (-1, VOC's "difficult") count neither as hits nor as false alarms: the devkit's
VOCevalcls takes true positives where the ground truth is > 0 and false positives where it is < 0,
so its 0 ("difficult") pairs drop out of the ranking, and the VOC07 benchmark code drops them too
(facebookresearch/fair_self_supervision_benchmark, tools/svm/test_svm.py, and
facebookresearch/vissl, vissl/utils/svm_utils/svm_trainer.py ``test``: only rows whose target is
not -1 reach ``get_precision_recall``).

``map_area`` is a secondary figure for the multi-label sets (``extra_scores``), never a headline:
the VOC07 SVM and linear benchmarks that self-supervised papers quote score AP as the area under
the precision-recall curve, the VOC2010+ devkit's "all-point" form (VOCap.m): precision is made
non-increasing in recall (each point takes the best precision at any higher recall) and summed over
the recall steps. So do facebookresearch/fair_self_supervision_benchmark, tools/svm/svm_helper.py
``calculate_ap`` (called from tools/svm/test_svm.py on the rows whose target is not -1), and
facebookresearch/vissl, vissl/utils/svm_utils/evaluate.py ``calculate_ap`` (the rows weighted 0,
i.e. target -1, dropped first), averaged by vissl/meters/mean_ap_meter.py over the classes with a
positive. It is not scikit-learn's ``average_precision_score``, which sums the raw, uninterpolated
precision at each recall step and so is lower wherever a later precision beats an earlier one.
"""

from __future__ import annotations

import torch

from evalsuite.datasets.base import IGNORE


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


def average_precision_area(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """scores (N,), binary targets (N,) -> area under the precision-recall curve, VOC2010+ "all-point".

    Recall rises by 1 / positives at each hit, so the area is the mean over the hits of the
    interpolated precision there: the best precision at that rank or any later one (module docstring).
    Tied scores are ranked in argsort's order, as in the reference code."""
    order = scores.argsort(descending=True)
    hits = targets[order].double()
    precision = hits.cumsum(0) / torch.arange(1, len(hits) + 1, dtype=torch.float64)  # (N,)
    interpolated = precision.flip(0).cummax(0).values.flip(0)  # (N,) best precision at rank >= n
    return (interpolated[hits > 0].sum() / hits.sum().clamp(min=1)).item()


def per_class_mean(ap, scores: torch.Tensor, targets: torch.Tensor) -> float:
    """scores (N, C), targets (N, C) of 1 / 0 / ``IGNORE`` -> mean of ``ap`` over the classes with a positive.

    Each class is ranked over its scored pairs only: those marked ``IGNORE`` are left out (module
    docstring)."""
    aps = []
    for c in range(targets.shape[1]):
        kept = targets[:, c] != IGNORE  # (N,)
        hits = targets[kept, c] > 0
        if hits.any():
            aps.append(ap(scores[kept, c], hits))
    return float(sum(aps) / len(aps))


def map11(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """scores (N, C), targets (N, C) of 1 / 0 / ``IGNORE`` -> mean AP-11 over the classes with a positive."""
    return per_class_mean(average_precision_11, scores, targets)


def map_area(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """scores (N, C), targets (N, C) of 1 / 0 / ``IGNORE`` -> mean area AP over the classes with a positive."""
    return per_class_mean(average_precision_area, scores, targets)


SCORERS = {"top1": top1, "mean_per_class": mean_per_class, "map11": map11, "map_area": map_area}

#: figures a row carries beside its headline metric's, by headline metric (module docstring).
SECONDARY = {"map11": ("map_area",)}


def score(metric: str, scores: torch.Tensor, targets: torch.Tensor) -> float:
    return SCORERS[metric](scores.float().cpu(), targets.cpu())


def extra_scores(metric: str, scores: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """The secondary test figures for a dataset scored by ``metric``: ``{"map_area": ...}`` for
    ``map11``, ``{}`` otherwise."""
    return {name: score(name, scores, targets) for name in SECONDARY.get(metric, ())}
