# BYOL on CIFAR-10 as solo-learn runs it (scripts/pretrain/cifar/byol.yaml): projector 4096 -> 256,
# predictor 4096 -> 256 (Grill et al. 2020, Sec. 3.3); EMA tau from base_tau 0.99 to final_tau 1.0
# on the cosine of Sec. 3.2; LARS lr 1.0 x batch / 256, wd 1e-5, eta 0.02, clip_lr True, biases
# and BN excluded (exclude_bias_n_norm); 10 warm-up epochs then cosine. Views: solo-learn's
# augmentations/asymmetric.yaml (BYOL's Table 6 at 32 px): crop (0.08, 1), jitter
# (0.4, 0.4, 0.2, 0.1) p=0.8, grey p=0.2, no blur, solarize p = 0 / 0.2.
# Against lightly 1.6.0 (tests/test_lightly_oracle_*.py): the same step and views (its BYOLTransform with
# gaussian_blur=0); its cifar10_benchmark.py keeps tau at 0.99 with SGD and 1024-wide heads, and its ImageNet
# byol.py moves the target before the forward with cosine_schedule(k, K), here after the update with
# tau(k) = cosine_schedule(k, K + 1), as solo-learn does.
_base_ = "_cifar10.py"
method = dict(type="byol", arch="cifar_resnet18", hidden=4096, dim=256, tau_base=0.99)
_view = dict(size=32, crop_scale=(0.08, 1.0), jitter=(0.4, 0.4, 0.2, 0.1), jitter_p=0.8, gray_p=0.2)
views = [dict(_view, solarize_p=0.0), dict(_view, solarize_p=0.2)]
optimizer = dict(type="LARS", base_lr=1.0, momentum=0.9, weight_decay=1e-5, eta=0.02, clip_lr=True)
