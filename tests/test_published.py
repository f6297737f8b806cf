"""Published transfer figures (results/published/) and their block on the leaderboard's columns."""

from __future__ import annotations

from evalsuite.cli import main
from evalsuite.report.published import BLOCK_TITLE, load_published, published_grid
from tests.fixtures import datasets as fx

TRANSFER_TASKS = {"linear", "finetune"}


def test_transfer_figures_name_their_table_and_how_they_were_checked():
    table = load_published()
    transfer = table[table["dataset"].isin(fx.WRITERS)]
    assert len(transfer) >= 2 and set(transfer["task"]) <= TRANSFER_TASKS
    assert transfer["table"].str.startswith("Table").all() and (transfer["verified"].str.len() > 40).all()
    row = transfer[(transfer["method"] == "DeepCluster-v2") & (transfer["task"] == "linear")].iloc[0]
    assert (row["dataset"], row["value"], row["arch"], row["epochs"]) == ("cifar10", 94.07, "resnet50", 800)


def test_grid_lines_up_with_measured_columns():
    measured = ["dtd/linear", "cifar10/linear", "cifar10/knn"]
    grid = published_grid(load_published(), measured)
    assert list(grid.columns[:3]) == measured and grid.columns[-1] == "source"
    deepcluster = grid.loc["DeepCluster-v2 (resnet50, 800 ep)"]
    cells = (deepcluster["cifar10/linear"], deepcluster["cifar10/finetune"], deepcluster["dtd/linear"])
    assert cells == ("94.07", "97.06", "")
    assert deepcluster["source"] == "Ericsson et al. 2021, Table 1"


def test_leaderboard_published_block_follows_measured_table(tmp_path, monkeypatch, capsys, one_thread):
    fx.bypass_md5(monkeypatch)
    fx.write("cifar10", tmp_path / "data")
    results = tmp_path / "res"
    assert main(["eval", "random", "--arch", "resnet_tiny", "--datasets", "cifar10", "--data-root", str(tmp_path / "data"),
                 "--tasks", "knn", "--results", str(results), "--quiet",
                 "--cfg-options", "knn.ks=[1]", "knn.headline_k=1"]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "--results", str(results), "--published"]) == 0
    measured, block = capsys.readouterr().out.split(f"## {BLOCK_TITLE}")
    assert "random-resnet_tiny" in measured and "DeepCluster" not in measured
    header = block.strip().splitlines()[0].split(" | ")
    assert header[1] == "cifar10/knn"  # the measured column first, then the papers' own
    assert any(line.startswith("| DeepCluster-v2 (resnet50, 800 ep) |  | 97.06 | 94.07 |") for line in block.splitlines())
