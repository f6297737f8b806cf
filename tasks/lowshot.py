# Low-shot L-BFGS linear probe: k in {1, 5, 10, 25} images per class and class-balanced 1% / 10%
# subsets of train (SimCLR, Chen et al. 2020, Sec. 6), 5 seeded draws each, mean and 95% t-interval.
# The L2 penalty is chosen per draw on the validation split from Kornblith et al. 2019's grid (App. A.3).
_base_ = ["./default.py"]
tasks = ["lowshot"]
datasets = ["digits"]

lowshot = dict(
    type="lowshot",
    shots=[1, 5, 10, 25],
    fractions=[0.01, 0.1],
    draws=5,
    headline="k=5",
    wd=None,                 # None: choose on val; a number fixes it (no validation images used)
    wd_start=-6.0, wd_stop=5.0, wd_num=45,
    max_iter=1000,
    grid_batch=0,            # 0: whole grid jointly on a GPU, warm-started one by one on a CPU
)
