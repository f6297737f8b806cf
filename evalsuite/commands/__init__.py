"""Sub-commands of ``evalsuite``, one module each (see ``evalsuite.cli``)."""
