# Fine-tuning: Ericsson et al. 2021 ('How Well Do Self-Supervised Models Transfer?', Sec. 3), the
# 5,000-step version of Kornblith et al. 2019, App. A.5 (the task's defaults: batch 64, SGD with
# Nesterov momentum 0.9, lr in logspace(-4, -1, 4), wd in {0} and logspace(-6, -3, 4) divided by the
# lr, random-resized crop + flip; a resumable snapshot every 500 steps). 20 grid points chosen on
# val, then one retrain on train+val scored on test: 21 runs of `steps` each. Plus the frozen
# L-BFGS probe beside it.
_base_ = ["./default.py"]
tasks = ["finetune", "linear"]
datasets = ["cifar10"]
