# A short fine-tuning schedule for CPU tests and quick looks: the protocol of tasks/finetune.py
# (Ericsson et al. 2021) with 60 steps and a 2 x 2 grid; NOT comparable with the full protocol
# (a different protocol_id, so the leaderboard keeps it in its own column).
_base_ = ["./default.py"]
tasks = ["finetune", "linear"]
datasets = ["digits"]

finetune = dict(
    type="finetune",
    steps=60,
    batch_size=64,
    lrs=[1e-2, 1e-1],
    wds=[0.0, 1e-4],
    wd_over_lr=True,
    momentum=0.9,
    nesterov=True,
    crop_scale=[0.08, 1.0],
    flip=True,
    eval_batch_size=256,
    num_workers=0,
    save_every=20,
)
