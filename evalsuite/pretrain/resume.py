"""Resume without running code: the trainer's own checkpoints, read with ``weights_only=True``.

An mmengine 0.10.7 resume checkpoint (``Runner.save_checkpoint``) holds tensors and, in its
message hub, ``HistoryBuffer`` objects with numpy arrays and scalars. ``RESUME_GLOBALS`` lists
exactly the globals those files contain (found by walking the pickles of every method's
checkpoint), and nothing else is allowed while one is read. One of them needs care: each
``HistoryBuffer`` stores its statistics methods (min, max, current, mean) as
``getattr(HistoryBuffer, 'min')``, so the pickle calls ``builtins.getattr``. The real
``getattr`` would let a planted file fetch any attribute of any allowed object; here the name
resolves to ``_history_statistic``, which returns only those registered statistics methods.

Every epoch the trainer also writes ``latest.pth`` (atomically replaced) besides the recipe's
interval checkpoints, so ``--resume`` loses at most one epoch.
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.registry import HOOKS
from mmengine.runner import CheckpointLoader

from evalsuite.atomic import atomic_path, write_text
from evalsuite.checkpoint.io import HISTORY_STATISTICS, numpy_reconstructors, unpickler_reason
from evalsuite.errors import EvalsuiteError
from evalsuite.pretrain.dist import world

#: What to do about a resume file this trainer did not write (``evalsuite pretrain`` reads no other).
NOT_OURS = ("it was not written by evalsuite pretrain, or was altered: remove it from the work dir to resume from the "
            "checkpoint before, or give a new --work-dir")
#: The rolling checkpoint, and mmengine's pointer to the newest checkpoint of a work dir.
LATEST, POINTER = "latest.pth", "last_checkpoint"
#: The scheme under which the Runner hands resume files to ``load_resume_checkpoint``.
SCHEME = "evalsuite-resume://"


def _history_statistic(owner, name: str):
    """``getattr`` as the resume pickles use it: only a statistics method of ``HistoryBuffer``."""
    if owner is not HistoryBuffer or name not in HISTORY_STATISTICS:
        raise EvalsuiteError(f"a resume checkpoint asked for attribute {name!r} of {owner!r}; only the "
                             f"HistoryBuffer statistics {', '.join(HISTORY_STATISTICS)} are allowed")
    return getattr(owner, name)


def _numpy_globals() -> list:
    """numpy's reconstructors and the dtypes a message hub holds: the log history is float64, its
    counts int64 (float32 / int32 where a scalar was logged so)."""
    return [*numpy_reconstructors(), *(type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32"))]


#: Reviewed allow-list of what a resume checkpoint of this trainer contains besides tensors.
RESUME_GLOBALS = [HistoryBuffer, *_numpy_globals(),
                  (_history_statistic, "builtins.getattr")]  # pickled as __builtin__.getattr, read as builtins


def load_resume_checkpoint(path: str | Path) -> dict:
    """A resume checkpoint as a dict on the CPU, or one sentence if it holds anything else.

    Not ``evalsuite.checkpoint.io.read_checkpoint``: that reader rebuilds ``HistoryBuffer`` as an
    inert stand-in (enough to take weights out of an mmengine file), while resuming needs the real
    class back in the message hub; its refusal sentence and hint are the same."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals(RESUME_GLOBALS):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except EvalsuiteError as exc:  # _history_statistic's own sentence
        raise EvalsuiteError(f"checkpoint {str(path)!r} holds more than this trainer's resume state: {exc}; {NOT_OURS}") from exc
    except pickle.UnpicklingError as exc:
        raise EvalsuiteError(f"checkpoint {str(path)!r} holds more than this trainer's resume state "
                             f"({unpickler_reason(exc)}, which its resume files never hold); {NOT_OURS}") from exc
    except Exception as exc:  # noqa: BLE001 - a file torch cannot read is a damaged file
        raise EvalsuiteError(f"checkpoint {str(path)!r} cannot be read ({type(exc).__name__}: {unpickler_reason(exc)}); "
                             "the file is truncated or corrupted: delete it to resume from the one before") from exc
    if not isinstance(obj, dict) or "meta" not in obj:
        raise EvalsuiteError(f"checkpoint {str(path)!r} is not a resume checkpoint of this trainer (no 'meta')")
    return obj


#: Resume files read by ``preload``, handed to the Runner when it asks for them.
_PRELOADED: dict[str, dict] = {}


def preload(source: str | None) -> None:
    """Read the resume file of ``source`` (``resume_source``) now, before the Runner writes its log
    folder and its copy of the recipe, so a refused file leaves nothing behind; the Runner is
    then handed this same object (the file is read once)."""
    if source is not None:
        _PRELOADED[source] = load_resume_checkpoint(source[len(SCHEME):])


@CheckpointLoader.register_scheme(prefixes=SCHEME)
def _load_from_scheme(filename: str, map_location=None) -> dict:
    obj = _PRELOADED.pop(filename, None)
    return obj if obj is not None else load_resume_checkpoint(filename[len(SCHEME):])


def resume_source(work_dir: str | Path) -> str | None:
    """The Runner's ``load_from`` for ``--resume``: the newest checkpoint of ``work_dir`` (mmengine's
    ``last_checkpoint`` pointer, else ``latest.pth``), or None when the run has none yet.

    A pointer that leads outside the work dir is refused: resume reads only this run's files."""
    work = Path(work_dir).resolve()
    pointer, latest = work / POINTER, work / LATEST
    named = pointer.read_text().strip() if pointer.is_file() else ""
    path = Path(named).resolve() if named else None
    if path is not None and work not in path.parents:
        raise EvalsuiteError(f"{pointer} names {named!r}, outside the work dir {work}; resume reads only the "
                             "run's own checkpoints: delete that file or give the run's own work dir")
    if path is None or not path.is_file():
        path = latest if latest.is_file() else None
    return None if path is None else SCHEME + str(path)


@HOOKS.register_module()
class RollingCheckpointHook(Hook):
    """Saves the whole training state to ``latest.pth`` after every epoch (write, then rename
    over the old one, so a kill never leaves it half-written) and points ``last_checkpoint`` at it.

    ``every_s`` > 0 skips epochs until that many seconds have passed since the last write: where
    an epoch takes a second or two (CIFAR-10 on a GPU) a write per epoch would cost more than the
    time a kill can lose. It runs after the monitor hook (which raises on a NaN epoch before anything is saved) and
    before mmengine's ``CheckpointHook``, whose interval checkpoints then take over the pointer.
    """

    priority = "NORMAL"

    def __init__(self, every_s: float = 0.0) -> None:
        self.every_s, self._last = every_s, time.monotonic()

    def after_train_epoch(self, runner) -> None:
        if world()[0] != 0 or time.monotonic() - self._last < self.every_s:
            return
        self._last = time.monotonic()
        work = Path(runner.work_dir)
        with atomic_path(work / LATEST) as tmp:
            runner.save_checkpoint(str(work), tmp.name, save_optimizer=True, save_param_scheduler=True)
        write_text(work / POINTER, str(work / LATEST))
