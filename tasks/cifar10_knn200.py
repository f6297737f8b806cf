# kNN as the SSL-library CIFAR benchmarks report it (k = 200, T = 0.1), plus the linear probe.
_base_ = ["./default.py"]
datasets = ["cifar10"]
knn = dict(temperature=0.1, headline_k=200)
