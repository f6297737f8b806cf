# Fine-tuning: Ericsson et al. 2021 ('How Well Do Self-Supervised Models Transfer?', Sec. 3), the
# 5,000-step version of Kornblith et al. 2019, App. A.5. 20 grid points chosen on val, then one
# retrain on train+val scored on test: 21 runs of `steps` each. Plus the frozen L-BFGS probe beside it.
_base_ = ["./default.py"]
tasks = ["finetune", "linear"]
datasets = ["cifar10"]

finetune = dict(
    type="finetune",
    steps=5000,                             # Ericsson et al. 2021 (Kornblith et al. 2019 use 20,000)
    batch_size=64,
    lrs=[1e-4, 1e-3, 1e-2, 1e-1],           # logspace(-4, -1, 4)
    wds=[0.0, 1e-6, 1e-5, 1e-4, 1e-3],      # {0} and logspace(-6, -3, 4) ...
    wd_over_lr=True,                        # ... each divided by the learning rate
    momentum=0.9,
    nesterov=True,
    crop_scale=[0.08, 1.0],                 # random-resized crop (Inception) + flip; test: resize + centre crop
    flip=True,
    eval_batch_size=256,
    num_workers=-1,
    save_every=500,                         # resumable snapshot every 500 steps
)
