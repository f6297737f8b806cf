"""Detection transfer: any backbone the evaluation core loads -> detectron2 Faster R-CNN -> AP.

``spec`` says what a detection dataset is, ``voc`` and ``coco`` read the two annotation formats,
``data`` names datasets (``voc:PATH``, ``coco:ANN.json:IMG_DIR``, ``voc2007``, ...) and loads them,
``convert`` puts a torchvision ResNet into detectron2's naming and model, ``config`` turns a
recipe into a detectron2 config, ``train`` and ``evaluate`` run it. detectron2 itself is
imported lazily (``require_detectron2``) so the rest of evalsuite works without it.
"""

from __future__ import annotations

from evalsuite.errors import EvalsuiteError

INSTALL_HINT = "run 'python tools/install_detectron2.py' (make test and make demo do it)"


def require_detectron2():
    """Import detectron2 or fail with one sentence saying how to install it."""
    try:
        import detectron2  # noqa: F401
    except ImportError as exc:
        raise EvalsuiteError(f"the detection task needs detectron2, which is not installed ({exc}); {INSTALL_HINT}") from None
    return detectron2


def has_cpp_ops() -> bool:
    """True for an official detectron2 build; False for the pure-Python build (placeholder ``_C``)."""
    require_detectron2()
    try:
        from detectron2 import _C

        return hasattr(_C, "nms_rotated")
    except ImportError:
        return False
