"""The training step as one function: augment, forward, backward, optimizer step, epoch sums.

The plain step (``PretrainModel.train_step``) goes through mmengine's ``OptimWrapper`` (its
context managers, loss scaling and update counting) every iteration. ``FastStep`` does the same
arithmetic in one function of the uint8 batch, so that on a GPU ``torch.compile`` can capture
the whole step: the two-view augmentation, the forward and backward passes and the optimizer's
update, with no host synchronisation inside (the epoch's loss/std sums stay on the device and are
read once per epoch by the monitor hook). On CPU, and whenever ``compile`` is off, the very same
function runs eagerly; ``tests/test_pretrain_fast_step.py`` checks that it computes what the plain
step computes, loss by loss and weight by weight.

Compile modes (recipe key ``compile``; ``False`` runs the function eagerly):
    'default'                    inductor kernels, no CUDA graphs: the shortest compile;
    'max-autotune-no-cudagraphs' also autotunes matmul/conv tilings: a longer compile;
    'reduce-overhead'            adds CUDA graphs, removing the per-kernel launch cost.
Compiling costs time once, in the first step, which is measured and reported on its own
(``compile_s`` in the first epoch's metrics), so an epoch's img/s never hides it. Which mode pays
back within a 200-epoch run is a measurement (``bench/gpu_queue.py``, item ``speed``: compile
seconds + 200 x epoch seconds per mode); until it is measured the CIFAR recipes keep ``False``.

Graphs, as ``torch._dynamo.explain`` counts them on CPU (torch 2.14, backend tracing only): with
LARS (BYOL, SimCLR, NNCLR) the whole step is one graph; with torch's SGD (SimSiam) three, because
``torch.optim`` breaks the graph around ``optimizer.step`` on purpose so that inductor sees the
update in place (pytorch/pytorch#104053). Backward is traced with
``torch._dynamo.config.trace_autograd_ops``, set for the compiled calls only.

What stays outside the compiled function, by design: picking the batch (one ``index_select`` of
the resident data), reseeding the augmentation stream once per epoch, the learning-rate schedule
(host-side floats, as mmengine's schedulers write them) and per-step method work that depends on
the host-side step counter (BYOL's EMA, whose tau follows the global step).
"""

from __future__ import annotations

import time
import warnings

import torch

#: Modes ``compile`` accepts besides ``False``.
COMPILE_MODES = ("default", "max-autotune-no-cudagraphs", "reduce-overhead")


class FastStep:
    """One training step of ``model`` with ``optimizer``, compiled on CUDA when ``compile_mode`` is set.

    Args:
        model: a ``PretrainModel`` (augmentation in its data preprocessor, ``loss``, ``after_update``).
        optimizer: the torch optimizer the Runner built (its param groups, state and schedule).
        compile_mode: one of ``COMPILE_MODES``, or None to run eagerly.
        amp: bf16 autocast on CUDA (bf16 keeps fp32's range, so no loss scaler and no sync).
    """

    def __init__(self, model, optimizer: torch.optim.Optimizer, compile_mode: str | None = None,
                 amp: bool = True) -> None:
        if compile_mode not in (None, *COMPILE_MODES):
            raise ValueError(f"compile mode {compile_mode!r} is not one of: {', '.join(COMPILE_MODES)}")
        self.model, self.optimizer, self.amp = model, optimizer, amp
        self.compile_mode = compile_mode
        self.compile_s: float | None = None  # wall time of the first (compiling) call
        self.calls = 0
        self._fn = self.step if compile_mode is None else torch.compile(self.step, mode=compile_mode)
        if compile_mode is not None:
            model.data_preprocessor.global_rng = True
        # mmengine's schedulers count OptimWrapper.step calls to warn when a schedule steps before
        # any optimizer step; this step updates through the torch optimizer itself (the wrapper's
        # context managers would not compile), so that count stays at zero and the warning is void.
        warnings.filterwarnings("ignore", message="Detected call of `scheduler.step", category=UserWarning)

    def step(self, images: torch.Tensor, labels: torch.Tensor, g: torch.Generator | None) -> dict[str, torch.Tensor]:
        """(N, 3, H, W) uint8, (N,) labels -> detached float losses; parameters updated in place."""
        model = self.model
        views = model.data_preprocessor.augment(images, g)  # each (N, 3, S, S), normalised
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=self.amp and images.is_cuda):
            out = model.loss(views, labels)
        loss = out.pop("loss")
        # detached copies before backward: dynamo breaks the graph when a tensor whose grad_fn the
        # backward consumes is still to be returned
        logged = {"loss": loss.detach().float(), **{k: v.detach().float() for k, v in out.items()}}
        loss.backward()
        self.optimizer.step()
        for group in self.optimizer.param_groups:  # zero_grad(set_to_none=True), which dynamo skips
            for p in group["params"]:
                p.grad = None
        return model.add_to_epoch(logged)

    def __call__(self, data: dict) -> dict[str, torch.Tensor]:
        data = self.model.data_preprocessor.cast_data(data)
        images, labels = data["inputs"], data.get("labels")
        g = self.model.data_preprocessor.generator(images.device)
        first = self.calls == 0 and self.compile_mode is not None
        start = time.perf_counter() if first else 0.0
        if self.compile_mode is None:
            out = self._fn(images, labels, g)
        else:  # dynamo traces backward() only with this switch; without it the step splits at backward
            with torch._dynamo.config.patch(trace_autograd_ops=True):
                out = self._fn(images, labels, g)
        if first:
            if images.is_cuda:
                torch.cuda.synchronize(images.device)  # once: the compile time, measured apart
            self.compile_s = round(time.perf_counter() - start, 2)
        self.model.after_update()
        self.calls += 1
        return out
