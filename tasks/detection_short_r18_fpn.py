# SHORT schedule for small datasets (e.g. BCCD, 205 train images) and CPU smoke runs, not a
# paper protocol: R18-FPN (as detection_voc_r18_fpn.py), 2,000 iterations at batch 8, lr 0.01
# with a 200-iteration warm-up (random-init backbones diverge without it), x0.1 at 1,500 and
# 1,800, shortest side 480..640 (test 640), 100 precise-BN iterations; the rest as the detection
# task's defaults. Shorten further with --cfg-options detection.max_iter=N; pass the data with
# --datasets voc:PATH.
tasks = ["detection"]
datasets = ["voc0712"]
seeds = [0]  # one trial by default; --seeds 0,1,2 for mean +- std
detection = dict(meta_arch="FPN", depth=18, res5_extra_norm=False, fpn_norm="SyncBN",
                 max_iter=2000, batch_size=8, base_lr=0.01, steps=[1500, 1800], warmup_iters=200,
                 min_size_train=list(range(480, 641, 32)), max_size_train=1066, min_size_test=640,
                 max_size_test=1066, precise_bn_iters=100)
