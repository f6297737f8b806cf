"""The bad-input contract as a table: each bad invocation exits 2 with one line on stderr that
names the bad value, no traceback, and no new file in the results folder or the cache.

In-process (``evalsuite.cli.main``) so the table stays fast; ``test_contract_holds_in_a_real_process``
runs a few as real processes to prove the exit code and stderr there too.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from evalsuite.archs import build_backbone
from evalsuite.checkpoint.formats.detectron2 import to_detectron2
from evalsuite.cli import main

ROOT = Path(__file__).resolve().parents[1]
EVAL = ["eval", "random", "--arch", "resnet_tiny", "--quiet"]
PRE = ["pretrain", "simsiam_digits_tiny", "--work-dir", "{w}/wd"]
DET = ["--suite", str(ROOT / "tasks" / "detection_short_r50_fpn.py")]
KNN_SMALL = ["--tasks", "knn", "--cfg-options", "knn.ks=[1,3]", "knn.headline_k=1"]
NATIVE = ["--resolution", "native"]  # a user's arch is resized to 224 px unless told otherwise

# (id, argv with {w} for the workspace, what stderr must contain). --results {w}/res is added to every
# eval; "{w}" in the expected text is the workspace too.
CASES = [
    # settings: unknown keys, bad types, impossible values (item 1)
    ("top-level-unknown", [*EVAL, "--cfg-options", "nonsense_key=3"], "sets 'nonsense_key', which nothing reads"),
    ("detection-top-level", [*EVAL, *DET, "--cfg-options", "max_iter=20"],
     "sets 'max_iter', which nothing reads (did you mean detection.max_iter"),
    ("task-key-typo", [*EVAL, "--cfg-options", "knn.tempreature=0.1"],
     "task 'knn' has no setting 'tempreature' (did you mean knn.temperature?)"),
    ("temperature-text", [*EVAL, "--cfg-options", "knn.temperature=abc"], "knn.temperature='abc' is not a number"),
    ("temperature-negative", [*EVAL, "--cfg-options", "knn.temperature=-1"], "knn.temperature=-1 is not valid"),
    ("temperature-zero", [*EVAL, "--cfg-options", "knn.temperature=0"], "knn.temperature=0 is not valid"),
    ("task-not-a-dict", [*EVAL, "--cfg-options", "knn=3"], "knn=3 is not a dict of knn settings"),
    ("k-zero", [*EVAL, "--cfg-options", "knn.ks=[0]", "knn.headline_k=0"],
     "knn.ks=[0] is not valid; ks must be at least 1"),
    ("headline-not-in-ks", [*EVAL, "--cfg-options", "knn.headline_k=7"], "headline_k=7 is not one of ks"),
    ("k-above-bank", [*EVAL, "--cfg-options", "knn.ks=[20,5000]"], "knn k=5000 exceeds the memory bank of"),
    ("ks-not-a-list", [*EVAL, "--cfg-options", "knn.ks=abc"], "knn.ks='abc' is not a list of integers"),
    ("wd-num-zero", [*EVAL, "--cfg-options", "linear.wd_num=0"], "linear.wd_num=0 is not valid"),
    ("max-iter-float", [*EVAL, "--cfg-options", "linear.max_iter=2.5"], "linear.max_iter=2.5 is not an integer"),
    ("features-batch-zero", [*EVAL, "--cfg-options", "features.batch_size=0"], "features.batch_size=0 is not valid"),
    ("features-key-typo", [*EVAL, "--cfg-options", "features.batchsize=8"],
     "features has no setting 'batchsize' (did you mean features.batch_size"),  # or features.mode, also near
    ("workers-below-auto", [*EVAL, "--cfg-options", "features.num_workers=-2"], "features.num_workers=-2 is not valid"),
    ("tasks-not-a-list", [*EVAL, "--cfg-options", "tasks=7"], "tasks=7 is not a list of strings"),
    ("detection-steps-decrease", [*EVAL, *DET, "--cfg-options", "detection.steps=[1800,1500]"],
     "detection.steps=[1800, 1500]"),
    ("detection-batch-zero", [*EVAL, *DET, "--cfg-options", "detection.batch_size=0"],
     "detection.batch_size=0 is not valid"),
    ("finetune-empty-grid", [*EVAL, "--suite", str(ROOT / "tasks" / "finetune_short.py"),
                             "--cfg-options", "finetune.lrs=[]"],
     "lrs=[]"),
    ("lowshot-fraction", [*EVAL, "--suite", str(ROOT / "tasks" / "lowshot.py"),
                          "--cfg-options", "lowshot.fractions=[0.1,2]"],
     "lowshot.fractions=[0.1, 2] is not valid"),
    ("option-without-equals", [*EVAL, "--cfg-options", "knn.temperature"], "'knn.temperature' is not key=value"),
    ("option-unclosed", [*EVAL, "--cfg-options", "knn.ks=[10,20"], "'knn.ks=[10,20' opens '['"),
    # suites
    ("suite-missing", [*EVAL, "--suite", "{w}/none.py"], "suite '{w}/none.py' does not exist"),
    ("suite-syntax", [*EVAL, "--suite", "{w}/broken.py"], "suite '{w}/broken.py' does not parse: line 3"),
    ("suite-base-syntax", [*EVAL, "--suite", "{w}/child.py"],
     "a file that suite '{w}/child.py' inherits does not parse: line 3"),
    ("suite-file-unknown-key", [*EVAL, "--suite", "{w}/typo.py"],
     "sets 'dataset', which nothing reads (did you mean datasets"),
    # seeds, devices, launchers, names from the registries, formats
    ("seeds-text", [*EVAL, "--seeds", "0,x"], "--seeds '0,x' is not a comma-separated list"),
    ("seed-negative", [*EVAL, "--seed", "-1"], "seeds [-1] are not valid"),
    ("seed-text", [*EVAL, "--seed", "abc"], "argument --seed: invalid int value: 'abc'"),
    ("seeds-in-suite", [*EVAL, "--cfg-options", "seeds=[-3]"], "seeds=[-3] is not valid"),
    ("device-unknown", [*EVAL, "--device", "tpu"], "unknown device 'tpu'"),
    ("launcher-unknown", [*EVAL, "--launcher", "mpi"], "unknown launcher 'mpi'"),
    ("task-unknown", [*EVAL, "--tasks", "knn,svm"], "unknown task 'svm'"),
    ("dataset-unknown", [*EVAL, "--datasets", "cifar11"], "unknown dataset 'cifar11'"),
    ("arch-unknown", ["eval", "random", "--arch", "resnet9", "--quiet"], "unknown arch 'resnet9'"),
    ("arch-missing", ["eval", "random", "--quiet"], "needs --arch"),
    ("command-unknown", ["evaluate", "x"], "invalid choice: 'evaluate'"),
    ("list-kind", ["list", "widgets"], "unknown kind 'widgets'"),
    ("leaderboard-format", ["leaderboard", "--results", "{w}/rows", "--format", "pdf"], "unknown format 'pdf'"),
    ("leaderboard-spread", ["leaderboard", "--results", "{w}/rows", "--spread", "iqr"], "unknown spread 'iqr'"),
    ("leaderboard-out-under-file", ["leaderboard", "--results", "{w}/rows", "-o", "{w}/afile/board.md"],
     "the folder of board.md '{w}/afile' cannot be written"),
    # files: checkpoints, data
    ("checkpoint-missing", ["eval", "{w}/nope.pth", "--quiet"], "checkpoint '{w}/nope.pth' does not exist"),
    ("checkpoint-truncated", ["eval", "{w}/truncated.pth", "--quiet"], "truncated"),
    ("data-root-missing", [*EVAL, "--datasets", "cifar10", "--data-root", "{w}/nowhere"],
     "'cifar10' was not found under {w}/nowhere"),
    ("imagefolder-missing", [*EVAL, "--datasets", "imagefolder:{w}/nowhere"], "'{w}/nowhere' has no train/ directory"),
    ("image-truncated", [*EVAL, *KNN_SMALL, "features.num_workers=1", "--datasets", "imagefolder:{w}/trunc"],
     "image '{w}/trunc/train/b/1.jpg' cannot be read"),
    ("image-not-an-image", [*EVAL, *KNN_SMALL, "--datasets", "imagefolder:{w}/html"],
     "image '{w}/html/train/a/0.jpg' cannot be read"),
    ("class-empty-in-train", [*EVAL, *KNN_SMALL, "--datasets", "imagefolder:{w}/emptyclass"],
     "no valid file for the classes c"),
    ("class-only-in-test", [*EVAL, *KNN_SMALL, "--datasets", "imagefolder:{w}/testonly"],
     "test/ has class 'z' that train/ lacks"),
    # output paths (item 2)
    ("results-is-a-file", ["eval", "random", "--arch", "resnet_tiny", "--quiet", "--results", "{w}/afile"],
     "results folder (--results) '{w}/afile' cannot be written (a file is there"),
    ("results-under-a-file", ["eval", "random", "--arch", "resnet_tiny", "--quiet", "--results", "{w}/afile/res"],
     "'{w}/afile/res' cannot be written (a file stands where one of its parent folders should be)"),
    ("cache-is-a-file", [*EVAL, "--cache-dir", "{w}/afile"],
     "cache folder (--cache-dir) '{w}/afile' cannot be written"),
    # pre-training recipes
    ("pretrain-key-typo", [*PRE, "--cfg-options", "epochz=1"],
     "unknown recipe key 'epochz' (did you mean epochs?)"),
    ("pretrain-epochs-text", [*PRE, "--cfg-options", "epochs=abc"],
     "epochs='abc' is not an integer"),
    ("pretrain-batch-zero", [*PRE, "--cfg-options", "batch_size=0"],
     "batch_size=0 is not valid"),
    ("pretrain-method-key", [*PRE, "--cfg-options", "method.dimm=8"],
     "'method.dimm' (did you mean method.dim"),
    ("pretrain-recipe-missing", ["pretrain", "simsiam_mnist", "--work-dir", "{w}/wd"],
     "recipe 'simsiam_mnist' does not exist"),
    ("pretrain-workdir-file", ["pretrain", "simsiam_digits_tiny", "--work-dir", "{w}/afile"],
     "work dir (--work-dir) '{w}/afile'"),
    # the last bad inputs: dtypes, folders, empty lists, loops, one class, refused features, resume
    ("checkpoint-float8", ["eval", "{w}/float8.pth", "--quiet"],
     "unusable type such as conv1.weight (torch.float8_e4m3fn) (top level -> 60/60 backbone tensors); weights must be "
     "float32, float16, bfloat16 or float64"),
    ("checkpoint-longdouble-pkl", ["eval", "{w}/longdouble.pkl", "--quiet"],
     "unusable type such as conv1.weight (numpy float128)"),
    ("checkpoint-is-a-folder", ["eval", "{w}/afolder", "--quiet"],
     "checkpoint '{w}/afolder' is a folder, not a checkpoint file; give one of its files, e.g. {w}/afolder/backbone.pth"),
    ("report-out-is-a-folder", ["report", "--results", "{w}/rows", "-o", "{w}/afolder"],
     "report file (-o) '{w}/afolder' is an existing folder, not a file; give a file name, e.g. '{w}/afolder/report.html'"),
    ("leaderboard-out-is-a-folder", ["leaderboard", "--results", "{w}/rows", "-o", "{w}/afolder"],
     "leaderboard file (-o) '{w}/afolder' is an existing folder"),
    ("datasets-empty", [*EVAL, "--datasets", ""],
     "--datasets '' names no dataset; give one or more (e.g. digits or cifar10,imagefolder:PATH) or leave --datasets out"),
    ("tasks-empty", [*EVAL, "--tasks", ","], "--tasks ',' names no task"),
    ("seeds-empty", [*EVAL, "--seeds", ""], "--seeds '' names no seed"),
    ("imagefolder-symlink-loop", [*EVAL, *KNN_SMALL, "--datasets", "imagefolder:{w}/loop"],
     "image folder '{w}/loop/train/a/loop' is a symlink to '{w}/loop/train', a folder that contains it"),
    ("imagefolder-folder-twice", [*EVAL, *KNN_SMALL, "--datasets", "imagefolder:{w}/twice"],
     "is reached twice, as '{w}/twice/train/a/more' and as '{w}/twice/train/b'"),
    ("imagefolder-one-class", [*EVAL, *KNN_SMALL, "--datasets", "imagefolder:{w}/oneclass"],
     "dataset 'imagefolder:{w}/oneclass' has only class 'a'; a classification task needs at least two classes"),
    ("features-nan", ["eval", "{w}/nan.pth", "--allow-nonfinite", "--quiet", *KNN_SMALL],
     "features of digits/train hold NaN or inf for 256 of the 256 images from image 0 (the first is image 0): the checkpoint was "
     "loaded with 1 non-finite tensor(s) (--allow-nonfinite)"),  # what stays: test_eval_cli.py
    ("forward-tuple", ["eval", "random", "--arch", "tests.fixtures.plain_arch:tupled", "--quiet", *NATIVE, *KNN_SMALL],
     "gave tuple for images of shape (256, 3, 32, 32); a backbone's forward must give (N, D) features"),
    ("forward-spatial-map", ["eval", "random", "--arch", "tests.fixtures.plain_arch:spatial", "--quiet", *NATIVE,
                             *KNN_SMALL],
     "gave (256, 4, 32, 32) for images of shape (256, 3, 32, 32)"),
    ("pretrain-resume-refused", ["pretrain", "simsiam_digits_tiny", "--work-dir", "{w}/badresume", "--resume"],
     "checkpoint '{w}/badresume/latest.pth' holds more than this trainer's resume state (the type "
     "numpy.dtypes.ObjectDType, which its resume files never hold)"),
]

#: Refusals of the backbone's features keep the decoded images of the run (a cache of the dataset,
#: not of the backbone) and say so; nothing else may be new.
KEEPS_DECODED = {"features-nan", "forward-tuple", "forward-spatial-map"}


def _jpeg_folder(root: Path, classes=("a", "b"), n=3) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(root / split / c / f"{i}.jpg")
    return root


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("bad"))


def make_workspace(w: Path) -> Path:
    """The files the bad invocations point at (also used by ``bench/bad_input_table.py``)."""
    (w / "afile").write_text("a file where a folder should be")
    (w / "broken.py").write_text('tasks = ["knn"]\ndatasets = ["digits"]\nknn = dict(type="knn", ks=[10,\n')
    (w / "base_broken.py").write_text('tasks = ["knn"]\n\nknn = dict(type="knn" temperature=0.1)\n')
    (w / "child.py").write_text('_base_ = ["./base_broken.py"]\n')
    (w / "typo.py").write_text('tasks = ["knn"]\ndataset = ["digits"]\n')
    torch.save(build_backbone("resnet_tiny").state_dict(), w / "ok.pth")
    (w / "truncated.pth").write_bytes((w / "ok.pth").read_bytes()[:-300])
    trunc = _jpeg_folder(w / "trunc")
    # in train, the first split decoded: a bad test image is found after train's features are cached
    # (a complete, valid entry; tests/test_bad_data.py shows that case)
    (trunc / "train" / "b" / "1.jpg").write_bytes((trunc / "train" / "b" / "1.jpg").read_bytes()[:150])
    html = _jpeg_folder(w / "html")
    (html / "train" / "a" / "0.jpg").write_text("<html>403 Forbidden</html>")
    (_jpeg_folder(w / "emptyclass") / "train" / "c").mkdir()
    (_jpeg_folder(w / "testonly") / "test" / "z").mkdir()
    (w / "rows").mkdir()
    sd = build_backbone("resnet_tiny").state_dict()
    torch.save({**sd, "conv1.weight": sd["conv1.weight"].to(torch.float8_e4m3fn)}, w / "float8.pth")
    nan = {**sd, "conv1.weight": sd["conv1.weight"].clone()}
    nan["conv1.weight"][0, 0, 0, 0] = float("nan")
    torch.save(nan, w / "nan.pth")
    # detectron2's .pkl layout (MoCo's convert-pretrain-to-detectron2.py: {"model": arrays, "__author__", ...})
    arrays = {k: v.numpy() for k, v in to_detectron2(sd).items()}
    arrays["stem.conv1.weight"] = arrays["stem.conv1.weight"].astype(np.longdouble)
    (w / "longdouble.pkl").write_bytes(pickle.dumps({"model": arrays, "__author__": "MOCO", "matching_heuristics": True}))
    (w / "afolder").mkdir()
    torch.save(sd, w / "afolder" / "backbone.pth")
    os.symlink("..", _jpeg_folder(w / "loop") / "train" / "a" / "loop")
    os.symlink("../b", _jpeg_folder(w / "twice") / "train" / "a" / "more")
    _jpeg_folder(w / "oneclass", classes=("a",))
    (w / "badresume").mkdir()
    torch.save({"meta": {"epoch": 1}, "message_hub": np.array([1, "a"], dtype=object)}, w / "badresume" / "latest.pth")
    assert main([*EVAL, "--results", str(w / "rows"), "--tasks", "knn"]) == 0  # one real row for the leaderboard cases
    return w


def _files(*folders: Path) -> set[Path]:
    return {p for f in folders if f.exists() for p in f.rglob("*") if p.is_file()}


def argv_for(argv: list[str], w: Path) -> list[str]:
    out = [a.replace("{w}", str(w)) for a in argv]
    if out[0] == "eval" and "--results" not in out:
        out += ["--results", str(w / "res")]
    return out


@pytest.mark.parametrize("argv, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(workspace, isolated_cache, capsys, argv, expected, request):
    watched = (workspace / "res", workspace / "rows", workspace / "wd", workspace / "badresume", workspace / "afolder",
               isolated_cache)
    before = _files(*watched)
    capsys.readouterr()
    try:
        code = main(argv_for(argv, workspace))
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out = capsys.readouterr()
    err = out.err.rstrip("\n")
    assert code == 2, out
    assert err.startswith("evalsuite: error: ") and "\n" not in err and "Traceback" not in err, err
    assert expected.replace("{w}", str(workspace)) in err, err
    new = _files(*watched) - before
    if request.node.callspec.id in KEEPS_DECODED:  # the decoded images stay, as the sentence says
        new = {p for p in new if p.parent != isolated_cache / "decoded" or p.name.startswith(".")}
    assert not new, new  # no row, no cache entry, no temp file
    assert _files(*watched) >= before  # and nothing that was there is gone


def test_table_has_at_least_70_invocations():
    assert len(CASES) >= 70 and len({c[0] for c in CASES}) == len(CASES)


def test_path_errors_come_before_any_work(workspace, capsys):
    """A results folder that cannot be written is refused in well under a second, before the
    checkpoint is read (a 300-byte-short checkpoint would otherwise be the error)."""
    start = time.perf_counter()
    code = main(["eval", str(workspace / "truncated.pth"), "--quiet", "--results", str(workspace / "afile")])
    elapsed = time.perf_counter() - start
    assert code == 2 and "results folder" in capsys.readouterr().err
    assert elapsed < 1.0, elapsed


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="no sysfs")
def test_folder_without_permission_is_refused(capsys):
    """No permission, as the OS says it even to root (tests run as root, for whom chmod is no
    barrier): sysfs takes no new files."""
    assert main([*EVAL, "--results", "/sys/kernel/evalsuite-results"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evalsuite: error: results folder (--results) '/sys/kernel/evalsuite-results' cannot be "
                          "written (") and "\n" not in err
    assert not Path("/sys/kernel/evalsuite-results").exists()


def test_permission_denied_is_one_sentence(tmp_path, monkeypatch, capsys):
    """The answer a read-only or foreign folder gives (EACCES), wherever it comes from."""
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    assert main([*EVAL, "--results", str(tmp_path / "res")]) == 2
    res = str(tmp_path / "res")
    assert capsys.readouterr().err.strip() == (f"evalsuite: error: results folder (--results) {res!r} cannot be written "
                                               "(Permission denied); give a folder you can write to")


@pytest.mark.parametrize("case", ["results-is-a-file", "pretrain-workdir-file", "seed-text"])
def test_contract_holds_in_a_real_process(workspace, case):
    """A real process: exit status 2 and exactly one line on stderr, in under a second: output folders
    are checked before torch is imported, usage errors before anything. (The DataLoader-worker path
    of a damaged image runs in-process above, ``image-truncated`` with ``features.num_workers=1``.)"""
    _, argv, expected = next(c for c in CASES if c[0] == case)
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "evalsuite", *argv_for(argv, workspace)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=env)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and expected.replace("{w}", str(workspace)) in proc.stderr
    assert elapsed < 1.0, elapsed
