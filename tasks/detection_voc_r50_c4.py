# Detection transfer, the MoCo/SimSiam/BYOL recipe (He et al. 2020, Sec. 4.2 and App. A.2), which is
# the detection task's defaults: Faster R-CNN R50-C4 with the extra res5 norm, SyncBN, all stages
# trained, VOC07+12 trainval -> VOC07 test (11-point AP), 24k iterations at batch 16, lr 0.02 (x0.1
# at 18k and 22k), warm-up 100 iterations, train shortest side 480..800 step 32, test 800,
# torchvision RGB mean/std. 5 trials (seeds 0-4, one row each; --seed N runs one of them).
# Every detection recipe has this one as its base, or none. Shorten any detection recipe with
# --cfg-options detection.max_iter=N detection.steps=[...]
tasks = ["detection"]
datasets = ["voc0712"]
seeds = [0, 1, 2, 3, 4]  # the papers report the mean over 5 trials
detection = dict(depth=50)
