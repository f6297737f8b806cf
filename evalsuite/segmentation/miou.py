"""Mean intersection over union from a confusion matrix, as mmsegmentation scores the linear
segmentation probes (open-mmlab/mmsegmentation, ``mmseg/core/evaluation/metrics.py``
``total_intersect_and_union`` / ``mean_iou``; the metric DINOv2's configs evaluate).

Pixels whose ground truth is the ignore label are left out before counting. A class's IoU is
intersection / union over the whole test set (not averaged per image); a class absent from both the
ground truth and the predictions has no IoU (NaN) and is left out of the mean, as ``np.nanmean``
leaves it there. ``aAcc`` is the fraction of scored pixels predicted right, ``mAcc`` the mean of
per-class recalls.
"""

from __future__ import annotations

import torch


def confusion(pred: torch.Tensor, gt: torch.Tensor, classes: int, ignore_index: int) -> torch.Tensor:
    """pred, gt (any shape, same) -> (classes, classes) int64 counts, rows ground truth, columns prediction."""
    keep = gt != ignore_index
    index = gt[keep].long() * classes + pred[keep].long()
    return torch.bincount(index, minlength=classes * classes).reshape(classes, classes)


def scores(matrix: torch.Tensor) -> dict[str, float]:
    """{miou, macc, aacc} (fractions) and per-class IoU from a confusion matrix (module docstring)."""
    m = matrix.double()
    inter, gt, pred = m.diag(), m.sum(1), m.sum(0)
    iou = inter / (gt + pred - inter)  # NaN where the class is in neither
    acc = inter / gt
    return {"miou": float(iou.nanmean()), "macc": float(acc.nanmean()), "aacc": float(inter.sum() / m.sum()),
            "per_class_iou": [None if v != v else round(float(v), 6) for v in iou]}
