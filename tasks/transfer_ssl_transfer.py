# ssl-transfer's linear protocol (Ericsson et al. 2021, 'How Well Do Self-Supervised Models
# Transfer?', Sec. 3.1), choice for choice as its own code makes them: linusericsson/ssl-transfer,
# linear.py (commit 4e9b9c2), next to the default suite (tasks/transfer.py) for comparing C values
# with its published ones.
# - images: Resize(224, BICUBIC) + CenterCrop(224) (get_train_valid_loader / get_test_loader),
#   no 256 -> 224 border crop; ImageNet mean/std (prepare_data, unless --no-norm).
# - features: fitted raw, no standardisation (LinearTester.validate passes them to LogReg as is).
# - validation: the official val split for Aircraft, DTD, Flowers, VOC2007, else a random (not
#   stratified) 20% of train, np.random.seed(0) + shuffle, first floor(0.2 n) held out; here the
#   row's seed plays the role of that 0.
# - C = 1 / wd for wd in torch.logspace(-6, 5, 45), scanned weakest first with `score > best`,
#   so ties go to the weaker penalty; refit on train+val with the chosen C, scored once on test.
# One difference, on purpose: ssl-transfer's scikit-learn call stops at its default max_iter=100
# (ConvergenceWarning silenced) with warm starts; evalsuite solves every penalty to convergence
# (tasks/linear.py), so its chosen C is the one the protocol's objective actually picks.
_base_ = ["./default.py"]
tasks = ["linear"]
datasets = ["cifar10", "cifar100", "stl10", "flowers102", "pets", "dtd", "food101",
            "aircraft", "cars", "caltech101", "sun397", "voc2007"]  # as tasks/transfer.py
linear = dict(type="linear", wd_start=-6.0, wd_stop=5.0, wd_num=45, standardize=False, ties="weaker",
              val_draw="random")
features = dict(resize="bicubic224", normalize="imagenet")
