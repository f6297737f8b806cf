# Low-shot L-BFGS linear probe with the task's defaults: k in {1, 5, 10, 25} images per class and
# class-balanced 1% / 10% subsets of train (SimCLR, Chen et al. 2020, Sec. 6), 5 seeded draws each,
# mean and 95% t-interval, headline k=5. The L2 penalty is chosen per draw on the validation split
# from Kornblith et al. 2019's grid (App. A.3); `--cfg-options lowshot.wd=1e-4` fixes it instead.
_base_ = ["./default.py"]
tasks = ["lowshot"]
