"""Small-input backbones found by looking at the module: a stem that keeps 32-px resolution.

A network made for 32-px images (CIFAR) starts with a convolution of 3x3 or smaller at stride 1
and pools nothing before its first stage, so its first blocks see 32x32 maps (He et al. 2016,
Sec. 4.2: "The first layer is 3x3 convolutions", feature maps of 32, 16, 8; the SSL papers' CIFAR
ResNets drop ImageNet's 7x7 stride-2 conv and max-pool the same way, e.g. SimSiam App. D). Such a
network is a small-input backbone whatever it is called: ``resize=auto`` then evaluates small
images at their own size, as it was trained, instead of upscaling them to 224 px.

``keeps_small_input`` runs one 32x32 image through the module with a hook on every ``Conv2d``
(grad off, eval mode, the training flag restored: no statistic changes) and checks the first
convolution run (kernel <= 3, stride 1) and that the second one still receives 32x32 maps, which
no pooling or strided layer in between (a module or a functional call) can pass. A module that
cannot run at 32 px is not a small-input backbone.
"""

from __future__ import annotations

import torch
from torch import nn

SIDE = 32  # CIFAR's side: the resolution a small-input stem keeps
MAX_KERNEL = 3


def _first_param(model: nn.Module) -> torch.Tensor | None:
    found = next(iter(model.parameters()), None)
    return found if found is not None else next(iter(model.buffers()), None)


def _conv_inputs(model: nn.Module) -> list[tuple[nn.Conv2d, tuple[int, int]]]:
    """(conv, spatial size of its input) for the first two convolutions a 32x32 forward runs."""
    seen: list[tuple[nn.Conv2d, tuple[int, int]]] = []

    def hook(module, args):
        if len(seen) < 2 and args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
            seen.append((module, tuple(args[0].shape[-2:])))

    ref = _first_param(model)
    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    was_training = model.training
    try:
        model.eval()
        x = torch.zeros(1, 3, SIDE, SIDE, device=ref.device if ref is not None else "cpu",
                        dtype=ref.dtype if ref is not None and ref.is_floating_point() else torch.float32)
        with torch.no_grad():
            model(x)
    except Exception:  # noqa: BLE001 - a module that cannot run at 32 px is not a small-input one
        return []
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return seen


def keeps_small_input(model: nn.Module) -> bool:
    """True when the module's stem keeps 32-px resolution (module docstring)."""
    seen = _conv_inputs(model)
    if len(seen) < 2:
        return False
    (first, size), (_, after) = seen
    small_kernel = all(k <= MAX_KERNEL for k in first.kernel_size)
    return small_kernel and tuple(first.stride) == (1, 1) and size == (SIDE, SIDE) and after == (SIDE, SIDE)
