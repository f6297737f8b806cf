"""The zoo: the field's published checkpoints by name (``evalsuite eval zoo:dino_vits16``).

``catalog`` finds entries and their files in the cache, ``download`` fetches a file (resumable,
hash-checked), ``load`` turns ``zoo:NAME`` into a backbone and stamps each result row with the
entry and its published figure, ``compare`` sets measured beside published. The entries
themselves are data, one file per project family in ``evalsuite/zoo/entries/``.
"""

from evalsuite.zoo.catalog import PREFIX, entries, get_entry, is_zoo

__all__ = ["PREFIX", "entries", "get_entry", "is_zoo"]
