"""The GPU queue runs its items end to end at tiny size on CPU (``--smoke``), writes one row per
item into the RESULTS.md it was given, and skips items that already have a row."""

from __future__ import annotations

import runpy
from pathlib import Path

from evalsuite.pretrain.base import self_supervised

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _queue() -> dict:
    return runpy.run_path(str(BENCH / "gpu_queue.py"), run_name="gpu_queue_test")


def test_smoke_run_writes_rows_and_skips_done_items(tmp_path, one_thread):
    queue = _queue()
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n<!-- gpu-queue: speed -->\n")  # 'speed' already has a row
    assert [i.id for i in queue["pending"](results.read_text(), ["speed", "compile", "collapse"])] == ["compile", "collapse"]
    out = tmp_path / "out"
    argv = ["--smoke", "--in-process", "--out", str(out), "--results", str(results), "--data-root", "data",
            "--items", "speed,compile,collapse"]
    assert queue["main"](argv) == 0
    text = results.read_text()
    done = queue["markers"](text)
    assert set(done) == {"speed", "compile", "collapse"} and done["compile"] == {"best_mode": False}
    assert text.count("<!-- gpu-queue: speed -->") == 1  # not run again
    assert "| mode | compile s |" in text and "| False |" in text
    collapse = text[text.index("gpu-queue: collapse"):]
    assert "| epoch | std, stop-gradient |" in collapse and "| 2 |" in collapse and "no-stopgrad" in collapse
    assert "smoke run at tiny size" in collapse and "python bench/pretrain_methods.py" in collapse
    assert (out / "RESULTS.md").read_text() == text
    assert queue["main"](argv) == 0 and results.read_text() == text  # nothing left to run


def test_queue_order_and_sizes():
    queue = _queue()
    ids = [i.id for i in queue["ITEMS"]]
    # every registered self-supervised method has its item: a new method joins the queue by registering
    assert ids == ["speed", "compile", "byol", "nnclr", "simclr", "simsiam", "collapse", "eval", "probe", "knn",
                   "vitprobes", "segment", "linear_scale"]
    assert queue["METHODS"] == self_supervised()
    assert all(i.est_s <= 540 for i in queue["ITEMS"])  # 9 minutes of a 10-minute device call


def test_vit_probe_items_render_their_rows():
    """The two probe items (bench/vit_probes.py, checked with --smoke by hand: its tasks' own tests
    cover the code) render each task's figure, seconds and token store."""
    queue = _queue()
    items = {i.id: i for i in queue["ITEMS"]}
    data = {"rows": [{"task": "attentive", "metric": "top1", "value": 0.5, "task_s": 3.0, "chosen": {"lr": 1e-3},
                      "tokens": {"store": "cached fp16", "shape": [197, 384], "gb": 8.4}},
                     {"task": "knn", "metric": "top1@k=20", "value": 0.25, "task_s": 1.0, "chosen": {}, "tokens": None}],
            "wall_s": 9.0}
    text = items["vitprobes"].render(data)
    assert "| attentive | top1 | 50.00 | 3.0 |" in text and "cached fp16 [197, 384] 8.4 GB" in text
    assert "crops/s" in items["segment"].render({**data, "crops_per_s": 12.5})
    args = items["segment"].args({"result": "r.json", "data": "d"}, False)
    assert args[args.index("--arch") + 1] == "vit_small_patch16" and args[args.index("--crop") + 1] == "224"


def test_probe_race_smoke_row(tmp_path, one_thread):
    """The linear-probe race runs evalsuite's sweep and scikit-learn's side by side and renders
    both into one row: times, speed-up, test accuracy and chosen wd of each."""
    queue = _queue()
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n")
    argv = ["--smoke", "--in-process", "--out", str(tmp_path / "out"), "--results", str(results),
            "--data-root", "data", "--items", "probe"]
    assert queue["main"](argv) == 0
    row = results.read_text()[results.read_text().index("gpu-queue: probe"):]
    assert "Device: cpu" in row and "6 penalties" in row
    line = next(x for x in row.splitlines() if x.startswith("| digits pixels 32 px (3072-d) |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert float(cells[2]) > 0 and cells[3].endswith("x") and " / " in cells[4]
