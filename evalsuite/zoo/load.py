"""``zoo:NAME`` -> verified local file -> backbone, and the published figure each row carries."""

from __future__ import annotations

from evalsuite.zoo.catalog import get_entry
from evalsuite.zoo.compare import differences
from evalsuite.zoo.download import ensure


def zoo_backbone(req, seed: int = 0):
    """(model, LoadedCheckpoint) of the request's ``zoo:NAME``: the file fetched with
    ``req.download`` (into the cache root) and hash-checked, then read like any checkpoint, as the
    entry's arch (``--arch`` and ``--key`` override it). The label defaults to the zoo name; the
    entry's record lands in ``checkpoint.meta.zoo`` of every row."""
    from evalsuite.checkpoint import load_backbone

    entry = get_entry(req.checkpoint)
    path, sha256 = ensure(entry, req.download, req.cache_dir, req.quiet)
    model, info = load_backbone(path, req.arch or entry.arch, req.trust_checkpoint, seed=seed,
                                key=req.key or entry.key, allow_nonfinite=req.allow_nonfinite)
    assert info.sha256 == sha256, "the file changed between its hash check and its loading"
    info.meta.update({"label": entry.name, "method": entry.method, "kind": entry.kind, "dataset": entry.pretrain_data,
                      "zoo": entry.record()})
    if entry.epochs is not None:
        info.meta["epochs"] = entry.epochs
    return model, info


def published_field(row: dict) -> dict:
    """``{'published': ...}`` for a row of a zoo checkpoint whose entry publishes a figure for the
    row's dataset and task: the figure (percent), its source and protocol, the protocol
    differences from this row, and measured minus published in points; else ``{}``."""
    zoo = (row.get("checkpoint") or {}).get("meta", {}).get("zoo")
    if not zoo:
        return {}
    figure = get_entry(zoo["name"]).figure_for(row["dataset"], row["task"])
    if figure is None:
        return {}
    return {"published": {"zoo": zoo["name"], "metric": figure.metric, "value": figure.value, "source": figure.source,
                          "protocol": dict(figure.protocol), "procedure": figure.procedure,
                          "differences": differences(row, figure),
                          "delta": round(100 * float(row["value"]) - figure.value, 4)}}
