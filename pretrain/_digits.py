# Shared settings of the *_digits_tiny recipes: the offline CPU demo on scikit-learn's digits.
# 1,257 training images of 8x8 px, stored at the evaluation side (32 px, evalsuite.features);
# resnet_tiny. No flips (digits are not mirror-symmetric) and no colour (they are grey).
data = dict(dataset="digits", root="data", in_memory=True, knn_split="test")
views = [
    dict(size=32, crop_scale=(0.5, 1.0), flip_p=0.0, jitter=(0.4, 0.4, 0.0, 0.0), jitter_p=0.8, gray_p=0.0),
    dict(size=32, crop_scale=(0.5, 1.0), flip_p=0.0, jitter=(0.4, 0.4, 0.0, 0.0), jitter_p=0.8, gray_p=0.0),
]
epochs = 20
batch_size = 64  # 19 steps per epoch on 1,257 images
seed = 0
warmup_epochs = 0
log_interval = 50
checkpoint_interval = 10
compile = False
sync_bn = False
amp = True
# kNN as the default evaluation suite scores digits (k=20, T=0.07; tasks/default.py).
monitor = dict(knn_interval=10, knn_k=20, knn_t=0.07)
