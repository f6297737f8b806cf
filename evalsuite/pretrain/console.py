"""What ``evalsuite pretrain`` shows on the terminal: the epoch lines, a progress bar per epoch
and errors. mmengine's environment banner, config dump, hook table, per-iteration lines and
Python warnings still go to the run's log file (``WORK_DIR/TIMESTAMP/TIMESTAMP.log``);
``--verbose`` shows them on the terminal too.

mmengine builds its logger inside ``Runner.__init__`` and writes the banner there, so the console
filter is attached in ``build_logger``, the one place that sees the logger before its first line.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

from mmengine.hooks import Hook
from mmengine.runner import Runner

from evalsuite.pretrain.dist import world
from evalsuite.progress import Progress

_PACKAGE = str(Path(__file__).resolve().parents[1])
_state = {"verbose": False, "pending": [], "logger": None}


class OwnLinesOnly(logging.Filter):
    """Pass errors and the lines evalsuite's own code logs (the epoch line); drop mmengine's."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        return record.pathname.startswith(_PACKAGE) and not getattr(record, "file_only", False)


def _log_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = warnings.formatwarning(message, category, filename, lineno, line).rstrip()
    if _state["logger"] is None:
        _state["pending"].append(text)  # before the run's logger (and its file) exists
    else:
        _state["logger"].warning(text, extra={"file_only": True})


@contextlib.contextmanager
def console(verbose: bool) -> Iterator[None]:
    """Within this block, runners built here keep mmengine's output (and Python warnings) in the
    log file unless ``verbose``."""
    saved = dict(_state), warnings.showwarning
    _state.update(verbose=verbose, pending=[], logger=None)
    if not verbose:
        warnings.showwarning = _log_warning
    try:
        yield
    finally:
        _state.clear()
        _state.update(saved[0])
        warnings.showwarning = saved[1]


class EpochProgressHook(Hook):
    """One bar per epoch counting images, with img/s and ETA (``evalsuite.progress``). The full
    hook chain runs every ``log_interval`` iterations (``LeanEpochLoop``), so the bar moves then."""

    priority = "VERY_HIGH"  # closes the bar before the monitor logs the epoch line

    def __init__(self) -> None:
        self.bar: Progress | None = None

    def before_train_epoch(self, runner) -> None:
        loader = runner.train_dataloader
        batch = getattr(loader, "batch_size", 1) * world()[1]
        self.batch = batch
        self.bar = Progress(len(loader) * batch, f"epoch {runner.epoch + 1}/{runner.max_epochs}", "img",
                            quiet=world()[0] != 0)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.bar is not None:
            self.bar.update((batch_idx + 1) * self.batch - self.bar.n)

    def after_train_epoch(self, runner) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class QuietRunner(Runner):
    """mmengine's ``Runner`` whose terminal output follows ``console``, plus the epoch bar."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.register_hook(EpochProgressHook())

    def build_logger(self, log_level="INFO", log_file=None, **kwargs):
        logger = super().build_logger(log_level, log_file, **kwargs)
        if not _state["verbose"]:
            for handler in logger.handlers:
                if type(handler) is logging.StreamHandler:  # the console, not the log file
                    handler.addFilter(OwnLinesOnly())
        _state["logger"] = logger
        pending, _state["pending"] = _state["pending"], []
        for text in pending:
            logger.warning(text, extra={"file_only": True})
        return logger
