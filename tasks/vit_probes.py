# The frozen-feature probes side by side, as papers of the ViT era compare them: kNN (Wu et al.
# 2018; DINO's k), the L-BFGS linear probe on one pooled vector (Kornblith et al. 2019), MAE's
# BatchNorm + LARS linear protocol (He et al. 2022, App. A.2; the linear_bn task) and V-JEPA's
# attentive probe on all tokens (Bardes et al. 2024; facebookresearch/jepa configs/evals: AdamW,
# 20 epochs, lr 1e-3, wd 1e-3/1e-2, the attentive task). Each runs with its task's defaults, the
# papers' settings; every setting lands in the row. The three share one feature extraction; the
# attentive probe reads tokens, cached in float16 beside the features.
tasks = ["knn", "linear", "linear_bn", "attentive"]
datasets = ["digits"]

features = dict(batch_size=256, num_workers=-1)
