"""Pre-training methods (SimSiam, BYOL, SimCLR, NNCLR, supervised) and their trainer.

Importing this package registers every method in ``evalsuite.registry.METHODS`` and the
trainer's optimiser, scheduler, loop, hook and wrapper pieces in mmengine's registries: every
module of the folder is imported, so a new method is one new file.
"""

from evalsuite.registry import import_folder

import_folder(__name__, __path__)
