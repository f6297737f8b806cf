# The default suite: kNN and the L-BFGS linear probe, on the offline digits dataset.
# Every value here lands in each result row; `--cfg-options knn.temperature=0.1` overrides one.
tasks = ["knn", "linear"]
datasets = ["digits"]

# Wu et al. 2018, Sec. 3.4 (T = 0.07); DINO (Caron et al. 2021), App. B (k = 10, 20, 100, 200).
knn = dict(type="knn", ks=[10, 20, 100, 200], temperature=0.07, headline_k=20, chunk_size=1024)
# Kornblith et al. 2019, App. A.3: L-BFGS, wd from logspace(-6, 5, 45) chosen on validation data.
linear = dict(type="linear", wd_start=-6.0, wd_stop=5.0, wd_num=45, max_iter=1000)

features = dict(batch_size=256, num_workers=-1)  # -1: 0 workers for small sets, else one per core
