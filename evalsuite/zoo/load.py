"""``zoo:NAME`` -> verified local file -> backbone, and the published figure each row carries."""

from __future__ import annotations

import json

from evalsuite.results import protocol_fields
from evalsuite.zoo.catalog import get_entry
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
                                key=req.key or entry.key, allow_nonfinite=req.allow_nonfinite,
                                sha256=sha256)  # hashed once, by the check in ensure()
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


def row_settings(row: dict) -> dict:
    """A row's protocol in the vocabulary of a figure's ``protocol``: its task settings, feature
    mode, transform (without its normalisation suffix) and the ``k`` of its headline metric."""
    out = protocol_fields(row)
    if "transform" in out:
        out["transform"] = str(out["transform"]).split("-norm=", 1)[0]
    metric = str(row.get("metric", ""))
    if "@k=" in metric:
        out["k"] = int(metric.split("@k=", 1)[1])
    return out


def differences(row: dict, figure) -> list[str]:
    """Each published protocol setting this row did not use, as 'name: here X, published Y'; the
    published procedure first where it is not evalsuite's own for the task. Settings the row
    does not have (a ResNet's feature mode) are not compared."""
    here = row_settings(row)
    out = [f"procedure: published {figure.procedure}; here evalsuite's {row['task']}"] if figure.procedure else []
    if str(row.get("metric", "")).split("@", 1)[0] != figure.metric_base:
        out.append(f"metric: here {row['metric']}, published {figure.metric}")
    for name, value in figure.protocol.items():
        if name in here and json.dumps(here[name], default=str) != json.dumps(value, default=str):
            out.append(f"{name}: here {here[name]}, published {value}")
    return out
