"""Zoo entries, one module per project family; each registers its entries with ``add``."""
