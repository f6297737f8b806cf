"""What a zoo entry records: one published checkpoint file, where it is documented, the hash its
project publishes (if any), how to read it, and the figures its authors published with their
protocols. Entries are data; each family's file in ``evalsuite/zoo/entries/`` registers its own
with ``add`` (a zero-argument function in the ``ZOO`` registry, built on first use, as
detectron2's catalogs keep theirs).

A figure's ``protocol`` uses the names a result row uses for the same setting (``k``,
``temperature``, ``feature_mode``, ``transform``), so ``evalsuite.zoo.compare`` can name each one
that differs; ``procedure`` describes the published classifier when it is not the procedure of
evalsuite's task of the same name (a linear probe trained by SGD on augmented crops against
evalsuite's L-BFGS probe on frozen centre crops), and always counts as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import urlparse

from evalsuite.registry import ZOO

HASH_ALGORITHMS = ("sha256", "md5")


@dataclass(frozen=True)
class Hash:
    """A hash (or its leading hex digits) that a project publishes for its file, and where."""

    algorithm: str
    prefix: str
    source: str

    def __post_init__(self) -> None:
        assert self.algorithm in HASH_ALGORITHMS and len(self.prefix) >= 6, self
        assert all(c in "0123456789abcdef" for c in self.prefix), self.prefix


@dataclass(frozen=True)
class Figure:
    """One published figure, in percent as printed, with the protocol it was measured under."""

    dataset: str
    task: str
    metric: str
    value: float
    source: str  # where it is printed: repository file and table, or paper and table
    protocol: dict = field(default_factory=dict)
    procedure: str | None = None  # None: the procedure of evalsuite's task of that name

    @property
    def metric_base(self) -> str:
        return self.metric.split("@", 1)[0]


@dataclass(frozen=True)
class ZooEntry:
    """A reference checkpoint. ``arch`` is an evalsuite arch (``evalsuite list archs``);
    ``layout`` says how the project writes the file (and ``key`` where the backbone is, when the
    structural search needs telling); ``resolution`` is the training resolution in px;
    ``published_rows`` are ``(method, arch, epochs)`` keys of rows in ``results/published`` that
    measured this same file (transfer tables)."""

    name: str
    method: str
    arch: str
    url: str
    documented: str
    layout: str
    resolution: int
    epochs: int | None
    pretrain_data: str
    figures: tuple[Figure, ...]
    paper: str
    hash: Hash | None = None
    key: str | None = None
    kind: str = "ssl"
    published_rows: tuple[tuple[str, str, int | None], ...] = ()

    @property
    def file(self) -> str:
        """The file's own name, as its URL gives it."""
        return PurePosixPath(urlparse(self.url).path).name

    def figure_for(self, dataset: str, task: str) -> Figure | None:
        return next((f for f in self.figures if (f.dataset, f.task) == (dataset, task)), None)

    def record(self) -> dict:
        """What every result row of this entry carries under ``checkpoint.meta.zoo``."""
        return {"name": self.name, "method": self.method, "url": self.url, "documented": self.documented,
                "published_hash": None if self.hash is None else {"algorithm": self.hash.algorithm,
                                                                  "prefix": self.hash.prefix,
                                                                  "source": self.hash.source},
                "layout": self.layout, "resolution": self.resolution, "pretrain_data": self.pretrain_data,
                "paper": self.paper}


def add(entry: ZooEntry) -> ZooEntry:
    """Register ``entry`` in ``ZOO`` under its name, as a zero-argument function returning it."""

    def build() -> ZooEntry:
        return entry

    build.__name__ = build.__qualname__ = entry.name
    ZOO.register_module(entry.name, module=build)
    return entry
