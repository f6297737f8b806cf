# AIM's attentive probe (El-Nouby et al. 2024; apple/ml-aim aim-v1/aim/v1/torch/models.py and
# layers.py): affine-free BatchNorm on the tokens, key/value projections without bias, no MLP, on the
# average of the last 6 blocks' outputs (AIM's probe_layers=6, before the final norm). The
# optimisation is the attentive task's (V-JEPA's AdamW recipe and its lr x wd grid).
tasks = ["attentive"]
datasets = ["digits"]

attentive = dict(head="aim", layers=6)
