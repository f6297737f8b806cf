"""Supervised ImageNet baselines: torchvision's ResNet weights as checkpoints of this project.

Every self-supervised number means something only next to the supervised ImageNet backbone
measured under the same protocol (SimCLR, Chen et al. 2020, Sec. 6 and Table 8; BYOL, Grill et
al. 2020, Sec. 4.2). ``register`` takes torchvision's published weight files, checks each file's
sha256 against the hash prefix torchvision embeds in its file name, drops the ImageNet
classifier and writes the backbone with ``save_backbone(..., kind='supervised')`` so that
``evalsuite eval`` measures it exactly like every other checkpoint and the result rows say
``checkpoint.kind == 'supervised'``.

Sources are tried in this order: an explicit file (``--from``), the torch hub cache
(``$TORCH_HOME/hub/checkpoints/<file name>``), then torchvision's URL when ``download=True``.
All sources are resolved and verified before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from evalsuite.archs import build_backbone
from evalsuite.checkpoint import save_backbone
from evalsuite.checkpoint.io import as_tensor_dict, read_checkpoint, sha256_file
from evalsuite.checkpoint.load import compare_keys
from evalsuite.errors import EvalsuiteError
from evalsuite.zoo.entries.torchvision import TORCHVISION, URL_ROOT, hash_prefix

KIND = "supervised"
METHOD = "supervised ImageNet"


@dataclass(frozen=True)
class Baseline:
    """One torchvision weight file. ``file`` embeds the first hex digits of its sha256.

    ``imagenet_top1`` is torchvision's own published figure (``weights.meta['_metrics']``),
    kept for the record; it is not a number this project measured.
    """

    name: str
    arch: str
    weights: str
    file: str
    imagenet_top1: float

    @property
    def url(self) -> str:
        return URL_ROOT + self.file

    @property
    def hash_prefix(self) -> str:
        return hash_prefix(self.file)


# The torchvision entries of the zoo (evalsuite/zoo/entries/torchvision.py) are the one table of
# these files; ``evalsuite eval zoo:torchvision_resnet50`` reads the same file without re-saving it.
BASELINES: dict[str, Baseline] = {label: Baseline(label, file.split("-")[0], weights, file, top1)
                                  for _, label, weights, file, top1 in TORCHVISION}


def hub_checkpoints_dir() -> Path:
    """Where torchvision keeps downloaded weights: ``$TORCH_HOME/hub/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def select(names: list[str] | None) -> list[Baseline]:
    if not names:
        return list(BASELINES.values())
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise EvalsuiteError(f"unknown baseline {unknown[0]!r}; valid baselines are: {', '.join(BASELINES)}")
    return [BASELINES[n] for n in names]


def match_file(path: Path, chosen: list[Baseline]) -> Baseline:
    """The baseline an explicit ``--from`` file stands for: the one named, or the one whose
    torchvision file name it carries."""
    if len(chosen) == 1:
        return chosen[0]
    by_file = [b for b in chosen if b.file == path.name]
    if len(by_file) == 1:
        return by_file[0]
    raise EvalsuiteError(
        f"cannot tell which baseline {str(path)!r} is; name one of {', '.join(b.name for b in chosen)} "
        f"or keep torchvision's file name ({', '.join(b.file for b in chosen)})"
    )


def verify(path: Path, baseline: Baseline) -> str:
    """Return the file's sha256, or refuse it when it does not start with torchvision's prefix."""
    if not path.is_file():
        raise EvalsuiteError(f"weight file {str(path)!r} does not exist")
    digest = sha256_file(path)
    if not digest.startswith(baseline.hash_prefix):
        raise EvalsuiteError(
            f"weight file {str(path)!r} has sha256 {digest[:12]}..., not torchvision's {baseline.hash_prefix} for "
            f"{baseline.weights}; the file is corrupted or not {baseline.file}, so nothing was written"
        )
    return digest


def fetch(baseline: Baseline, hub_dir: Path) -> Path:
    """Download ``baseline`` into ``hub_dir`` with torch's hash-checking downloader."""
    dst = hub_dir / baseline.file
    hub_dir.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(baseline.url, str(dst), hash_prefix=baseline.hash_prefix, progress=True)
    except (OSError, RuntimeError) as exc:
        raise EvalsuiteError(f"downloading {baseline.url} failed ({type(exc).__name__}: {str(exc)[:120]}); "
                             f"put {baseline.file} in {hub_dir} or pass --from FILE") from exc
    return dst


def locate(baseline: Baseline, hub_dir: Path, download: bool) -> Path:
    cached = hub_dir / baseline.file
    if cached.is_file():
        return cached
    if download:
        return fetch(baseline, hub_dir)
    raise EvalsuiteError(
        f"{baseline.file} ({baseline.weights}) is not in {hub_dir}; pass --download, --hub-dir DIR or --from FILE"
    )


def backbone_state(path: Path, baseline: Baseline) -> dict[str, torch.Tensor]:
    """torchvision's ImageNet weights without the 1000-way classifier ``fc``, checked to fit
    ``baseline.arch`` key for key and shape for shape."""
    state = as_tensor_dict(read_checkpoint(path))
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    report = compare_keys(state, build_backbone(baseline.arch))
    if not report.ok:
        raise EvalsuiteError(f"weight file {str(path)!r} does not fit arch {baseline.arch!r}: {report.problem()}")
    return state


def register(names: list[str] | None = None, out_dir: str | Path = "work_dirs/baselines",
             source: str | Path | None = None, hub_dir: str | Path | None = None,
             download: bool = False) -> list[Path]:
    """Verify the chosen baselines' weight files, then write each as an evalsuite checkpoint.

    Returns the written checkpoint paths (``<out_dir>/<baseline name>.pth``).
    """
    chosen = select(names)
    hub = Path(hub_dir) if hub_dir else hub_checkpoints_dir()
    if source is not None:
        source = Path(source)
        plan = [(match_file(source, chosen), source)]
    else:
        plan = [(b, locate(b, hub, download)) for b in chosen]
    digests = [verify(path, b) for b, path in plan]  # every file is checked before any write
    states = [backbone_state(path, b) for b, path in plan]
    written = []
    for (baseline, _), digest, state in zip(plan, digests, states):
        dst = Path(out_dir) / f"{baseline.name}.pth"
        save_backbone(
            dst, state, arch=baseline.arch, label=baseline.name, kind=KIND, method=METHOD,
            dataset="imagenet-1k", weights=baseline.weights, source_file=baseline.file, source_url=baseline.url,
            source_sha256=digest, published_imagenet_top1=baseline.imagenet_top1,
        )
        written.append(dst)
    return written
