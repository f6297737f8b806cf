"""The data preprocessor: uint8 batches in, augmented and normalised views out, on the device.

Workers (or the in-memory tensor) only deliver ``{'inputs': (N, 3, H, W) uint8, 'labels': (N,)}``;
everything random happens here, batched, with per-sample parameters (``augment.py``).
"""

from __future__ import annotations

import torch
from mmengine.model import BaseDataPreprocessor

from evalsuite.pretrain.augment import ViewSpec, augment_view, normalize


class MultiViewPreprocessor(BaseDataPreprocessor):
    """Turns one uint8 batch into ``len(views)`` augmented views.

    Args:
        views: one dict of ``ViewSpec`` fields per view (two for the SSL methods, one for
            supervised training).
    """

    def __init__(self, views: list[dict]) -> None:
        super().__init__()
        self.views = [ViewSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in view.items()}) for view in views]
        self._generators: dict[torch.device, torch.Generator | None] = {}
        self._seed = 0
        #: Draw from the device's default generator instead of an own one: a compiled step
        #: (``evalsuite.pretrain.fast_step``) cannot take a ``torch.Generator`` inside its graph.
        self.global_rng = False

    def reseed(self, seed: int) -> None:
        """Restart the augmentation stream (called per epoch with a (seed, epoch, rank) hash)."""
        self._seed = seed
        self._generators.clear()

    def generator(self, device: torch.device) -> torch.Generator | None:
        """This epoch's stream on ``device``; with ``global_rng`` the device's default generator,
        seeded here once per epoch, and None is returned."""
        if device not in self._generators:
            if self.global_rng:
                (torch.cuda.manual_seed if device.type == "cuda" else torch.manual_seed)(self._seed)
                self._generators[device] = None
            else:
                self._generators[device] = torch.Generator(device=device).manual_seed(self._seed)
        return self._generators[device]

    def augment(self, images: torch.Tensor, g: torch.Generator | None) -> list[torch.Tensor]:
        """(N, 3, H, W) uint8 on the device -> one normalised (N, 3, S, S) view per ``ViewSpec``."""
        return [normalize(augment_view(images, spec, g)) for spec in self.views]

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)  # moves tensors to the model's device
        images: torch.Tensor = data["inputs"]  # (N, 3, H, W) uint8
        if not training:
            return {"inputs": [normalize(images.float().div(255))], "data_samples": data.get("labels")}
        return {"inputs": self.augment(images, self.generator(images.device)), "data_samples": data.get("labels")}
