"""Semantic segmentation data for the dense linear probe (``evalsuite.tasks.segmentation``):
datasets in their official layouts (``datasets.py``), their training and test resizing
(``transforms.py``) and mIoU (``miou.py``)."""
