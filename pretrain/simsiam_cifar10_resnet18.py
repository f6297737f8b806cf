# SimSiam on CIFAR-10 (Chen & He 2021, App. D): 2-layer projector, dim 2048, predictor 512,
# SGD momentum 0.9, lr = 0.03 x batch / 256 (0.06 at batch 512: also lightly's cifar10_benchmark.py
# SimSiamModel, lr 6e-2 unscaled), weight decay 5e-4 (both), cosine decay with the predictor lr
# fixed, no warm-up. Encoder built with zero_init_residual=True as the official code builds it
# (facebookresearch/simsiam, simsiam/builder.py). Augmentation: crop (0.2, 1), flip, jitter
# (0.4, 0.4, 0.4, 0.1) p=0.8, grey p=0.2, no blur (lightly: SimSiamTransform, gaussian_blur=0).
# Against lightly 1.6.0 (tests/test_lightly_oracle_*.py): the same step, loss and views; the projector's
# output BN has no affine as in lightly's SimSiamProjectionHead and the official builder, where the
# benchmark's 2-layer projector keeps one.
_base_ = "_cifar10.py"
method = dict(type="simsiam", arch="cifar_resnet18", arch_options=dict(zero_init_residual=True), dim=2048,
              proj_layers=2, pred_hidden=512, stop_gradient=True)
_view = dict(size=32, crop_scale=(0.2, 1.0), jitter=(0.4, 0.4, 0.4, 0.1), jitter_p=0.8, gray_p=0.2)
views = [_view, _view]
optimizer = dict(type="SGD", base_lr=0.03, momentum=0.9, weight_decay=5e-4)
warmup_epochs = 0
