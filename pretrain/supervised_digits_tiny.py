# Supervised baseline on digits (CPU demo): cross-entropy on the labels, one augmented view.
_base_ = "_digits.py"
method = dict(type="supervised", arch="resnet_tiny")
views = [dict(size=32, crop_scale=(0.5, 1.0), flip_p=0.0, jitter_p=0.0, gray_p=0.0)]
epochs = 15
optimizer = dict(type="SGD", base_lr=0.4, momentum=0.9, weight_decay=5e-4)  # lr 0.1 at batch 64
