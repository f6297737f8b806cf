# The default suite: kNN and the L-BFGS linear probe, on the offline digits dataset.
# Both run with their dataclass defaults, which are the papers' protocols: kNN of Wu et al. 2018,
# Sec. 3.4 (T = 0.07) with DINO's k = 10, 20, 100, 200 (Caron et al. 2021, App. B); the probe of
# Kornblith et al. 2019, App. A.3 (wd from logspace(-6, 5, 45) chosen on validation data).
# Every setting lands in each result row; `--cfg-options knn.temperature=0.1` overrides one.
tasks = ["knn", "linear"]
datasets = ["digits"]

features = dict(batch_size=256, num_workers=-1)  # -1: 0 workers for small sets, else one per core
# ViTs also take features.mode: cls (default; avgpool without a class token), avgpool, cls+avgpool or
# cls_last4 (DINO linear eval, Caron et al. 2021, App. B); see evalsuite/archs/vit.py. ResNets have none.
