"""Published transfer figures (results/published/) and their block on the leaderboard's columns."""

from __future__ import annotations

from evalsuite.cli import main
from evalsuite.registry import DATASETS, tagged
from evalsuite.report.published import BLOCK_TITLE, load_published, published_grid
from tests.fixtures import datasets as fx

TRANSFER_TASKS = {"linear", "finetune"}


def test_transfer_figures_name_their_table_and_how_they_were_checked():
    table = load_published()
    transfer = table[table["dataset"].isin(tagged(DATASETS, "transfer"))]
    assert len(transfer) >= 2 and set(transfer["task"]) <= TRANSFER_TASKS
    assert transfer["table"].str.startswith("Table").all() and (transfer["verified"].str.len() > 40).all()
    row = transfer[(transfer["method"] == "DeepCluster-v2") & (transfer["task"] == "linear") & (transfer["dataset"] == "cifar10")]
    assert len(row) == 1 and (row.iloc[0]["value"], row.iloc[0]["arch"], row.iloc[0]["epochs"]) == (94.02, "resnet50", 800)


def test_supervised_resnet50_and_every_ssl_row_cover_the_11_many_shot_datasets_in_our_metrics(tmp_path):
    """Ericsson et al. 2021 Table 1: 13 SSL models and the supervised ResNet-50, linear and finetune, on
    the 11 datasets (no STL-10), each scored with the metric evalsuite's own wrapper uses for it."""
    table = load_published()
    ericsson = table[table["source_csv"] == "transfer_ericsson2021.csv"]
    many_shot = set(tagged(DATASETS, "transfer")) - {"stl10"}  # the transfer suite's datasets, not every fixture
    for (method, task), rows in ericsson.groupby(["method", "task"]):
        assert sorted(rows["dataset"]) == sorted(many_shot), (method, task)
    assert ericsson["method"].nunique() == 14 and set(ericsson["task"]) == TRANSFER_TASKS
    metric = {name: fx.write(name, tmp_path / name).metric for name in many_shot}
    assert (ericsson["metric"] == ericsson["dataset"].map(metric)).all()
    supervised = ericsson[ericsson["method"].str.startswith("supervised ImageNet")].set_index(["dataset", "task"])
    assert supervised.loc[("cifar10", "linear"), "value"] == 91.42 and supervised.loc[("pets", "finetune"), "value"] == 92.42
    assert supervised["epochs"].isna().all()  # the paper did not train torchvision's weights


def test_grid_lines_up_with_measured_columns():
    measured = ["dtd/linear top1", "cifar10/linear top1", "cifar10/knn top1@20"]
    grid = published_grid(load_published(), measured)
    assert list(grid.columns[:3]) == measured and grid.columns[-1] == "source"
    deepcluster = grid.loc["DeepCluster-v2 (resnet50, 800 ep)"]
    cells = (deepcluster["cifar10/linear top1"], deepcluster["cifar10/finetune top1"], deepcluster["dtd/linear top1"],
             deepcluster["cifar10/knn top1@20"])
    assert cells == ("94.02", "97.06", "78.62", "")  # blank where the paper has no figure
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
    assert header[1] == "cifar10/knn top1@1"  # the measured column first, then the papers' own
    line = next(l for l in block.splitlines() if l.startswith("| DeepCluster-v2 (resnet50, 800 ep) |"))
    cells = dict(zip(header, line.split(" | ")))
    assert (cells["cifar10/knn top1@1"], cells["cifar10/finetune top1"], cells["cifar10/linear top1"]) == ("", "97.06", "94.02")


def test_imagenet_figures_sit_in_the_columns_an_imagenet_run_fills():
    """Every published ImageNet-1k figure is under the registered dataset name ``imagenet`` and the
    metric names kNN (headline k=20) and linear rows carry, so a measured row lines up beside it."""
    from evalsuite.registry import DATASETS, names

    table = load_published()
    assert "imagenet-1k" not in set(table["dataset"]) and "imagenet" in names(DATASETS)
    imagenet = table[table["dataset"] == "imagenet"]
    grid = published_grid(imagenet, ["imagenet/knn top1@20", "imagenet/linear top1"])
    dino, dinov2 = grid.loc["DINO (vit_small_patch16)"], grid.loc["DINOv2 (vit_small_patch14_ls_518)"]
    assert (dino["imagenet/knn top1@20"], dino["imagenet/linear top1"]) == ("74.5", "77")
    assert (dinov2["imagenet/knn top1@20"], dinov2["imagenet/linear top1"]) == ("79", "81.1")
    assert {"MoCo v2", "MoCo v3", "SimSiam", "BYOL", "MAE"} <= set(imagenet["method"])
    supervised = imagenet[imagenet["task"] == "supervised"].set_index("arch")["value"]
    assert supervised["resnet18"] == 69.758 and 76.13 in supervised.loc[["resnet50"]].tolist()  # torchvision's own
    assert imagenet["source_url"].str.startswith("https://").all() and (imagenet["verified"].str.len() > 40).all()
