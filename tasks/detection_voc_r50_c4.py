# Detection transfer, the MoCo/SimSiam/BYOL recipe (He et al. 2020, Sec. 4.2 and App. A.2):
# Faster R-CNN R50-C4 with the extra res5 norm, SyncBN, all stages trained, VOC07+12 trainval ->
# VOC07 test (11-point AP), 24k iterations at batch 16, lr 0.02 (x0.1 at 18k and 22k), warm-up
# 100 iterations, train shortest side 480..800 step 32, test 800, torchvision RGB mean/std.
# 5 trials (seeds 0-4, one row each; --seed N runs one of them).
# Shorten any detection recipe with --cfg-options detection.max_iter=N detection.steps=[...]
tasks = ["detection"]
datasets = ["voc0712"]
seeds = [0, 1, 2, 3, 4]  # the papers report the mean over 5 trials
detection = dict(
    type="detection", meta_arch="C4", depth=50, res5_extra_norm=True, norm="SyncBN", fpn_norm="", freeze_at=0,
    max_iter=24000, batch_size=16, base_lr=0.02, steps=[18000, 22000], warmup_iters=100, warmup_factor=0.001,
    weight_decay=1e-4, min_size_train=list(range(480, 801, 32)), max_size_train=1333, min_size_test=800,
    max_size_test=1333, pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375],
    roi_batch_size_per_image=512, precise_bn_iters=200, amp=True, num_workers=4,
)
