"""Pre-training methods (SimSiam, BYOL, SimCLR, NNCLR, supervised) and their trainer.

Importing this package registers every method in ``evalsuite.registry.METHODS`` and the
trainer's optimiser, scheduler, loop, hook and wrapper pieces in mmengine's registries.
"""

from evalsuite.pretrain import byol, hooks, loop, nnclr, optim, simclr, simsiam, supervised  # noqa: F401
