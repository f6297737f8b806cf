"""Quiet by default: ``evalsuite pretrain`` shows its epoch lines and a progress bar per epoch;
mmengine's banner, config, hook table and warnings go to the work dir's log file (``--verbose``
shows them). Progress: tqdm's rate and ETA, one line per 10% when not on a terminal."""

from __future__ import annotations

import io
import warnings

from evalsuite.cli import main
from evalsuite.progress import Progress, progress

TINY = ["epochs=1", "batch_size=16", "data.limit=48", "log_interval=1", "method.dim=32", "method.pred_hidden=8",
        "monitor.knn_interval=1"]
MMENGINE_DUMP = ("System environment", "Config:", "Hooks will be executed in the following order")


def _pretrain(tmp_path, capsys, *flags: str) -> tuple[str, str, str]:
    work = tmp_path / "w"
    assert main(["pretrain", "simsiam_digits_tiny", "--work-dir", str(work), "--device", "cpu", *flags,
                 "--cfg-options", *TINY]) == 0
    out, err = capsys.readouterr()
    (log,) = work.glob("*/*.log")
    return out, err, log.read_text()


def test_pretrain_is_quiet_and_keeps_everything_in_the_log(tmp_path, capsys):
    def noisy_init(self, *args, **kwargs):  # a library deprecation warning during the run
        warnings.warn("old_api is deprecated", DeprecationWarning, stacklevel=2)
        return original(self, *args, **kwargs)

    from evalsuite.pretrain.console import EpochProgressHook

    original = EpochProgressHook.before_train_epoch
    EpochProgressHook.before_train_epoch = noisy_init
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            out, err, log = _pretrain(tmp_path, capsys, "--cache-dir", str(tmp_path / "root"))
    finally:
        EpochProgressHook.before_train_epoch = original
    assert not any(s in out + err for s in MMENGINE_DUMP) and "deprecated" not in out + err
    assert all(s in log for s in MMENGINE_DUMP) and "old_api is deprecated" in log
    epoch_lines = [line for line in out.splitlines() if "epoch=1" in line]
    assert len(epoch_lines) == 1 and all(f"{k}=" in epoch_lines[0] for k in ("loss", "std", "img_per_s", "knn"))
    assert "epoch 1/1: 100%" in err and "img/s]" in err  # the epoch's bar: 48 images, rate and ETA
    assert len(out.splitlines()) <= 3
    assert list((tmp_path / "root").iterdir()) == [tmp_path / "root" / "decoded"]  # pretrain's cache, same root


def test_verbose_shows_mmengine_on_the_terminal(tmp_path, capsys):
    out, _, log = _pretrain(tmp_path, capsys, "--verbose")
    assert all(s in out for s in MMENGINE_DUMP) and all(s in log for s in MMENGINE_DUMP)


def test_progress_off_a_terminal_is_one_line_per_tenth_with_rate_and_eta():
    sink = io.StringIO()
    with Progress(40, "draws", "draw", file=sink) as bar:
        for _ in range(40):
            bar.update()
    lines = sink.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("draws: 100%") and "40/40" in lines[-1]
    assert all("<" in line and "draw/s]" in line for line in lines), lines  # elapsed<ETA, rate
    assert "\r" not in sink.getvalue()
    quiet = io.StringIO()
    assert list(progress(range(5), 5, "x", quiet=True)) == list(range(5))
    assert Progress(5, "x", quiet=True, file=quiet).bar is None and quiet.getvalue() == ""


def test_two_runs_in_one_second_keep_their_own_logs(tmp_path, capsys, monkeypatch):
    """mmengine names a run by the second it starts and keeps one logger per name: two runs
    started within one second once shared the first's logger, and the second wrote no log."""
    import mmengine.runner.runner as mm_runner

    monkeypatch.setattr(mm_runner.time, "strftime", lambda fmt, *a: "20261201_000000")  # the same second
    logs = [_pretrain(tmp_path / name, capsys)[2] for name in ("a", "b")]
    assert all("Epoch(train)" in log or "epoch 1/1" in log for log in logs), [log[-300:] for log in logs]
