# A short fine-tuning schedule for CPU tests and quick looks: the protocol of tasks/finetune.py
# (Ericsson et al. 2021) with 60 steps and a 2 x 2 grid; NOT comparable with the full protocol
# (a different protocol_id, so the leaderboard keeps it in its own column).
_base_ = ["./default.py"]
tasks = ["finetune", "linear"]

finetune = dict(steps=60, lrs=[1e-2, 1e-1], wds=[0.0, 1e-4], num_workers=0, save_every=20)
