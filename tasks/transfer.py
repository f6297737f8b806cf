# The many-dataset transfer suite of Kornblith et al. 2019 / Ericsson et al. 2021 (frozen features).
_base_ = ["./default.py"]
datasets = ["cifar10", "cifar100", "stl10", "flowers102", "pets", "dtd", "food101",
            "aircraft", "cars", "caltech101", "sun397", "voc2007"]
