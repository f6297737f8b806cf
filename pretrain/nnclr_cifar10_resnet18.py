# NNCLR on CIFAR-10 (Dwibedi et al. 2021): projector [2048, 2048, 256], predictor [256, 4096, 256],
# support set sized to the dataset (16,384 of the 50,000 images, the paper's 98,304 is for
# ImageNet), SimCLR's CIFAR augmentation. LARS with warm-up and cosine; temperature 0.2, base lr
# 0.4, wd 1e-5, eta 0.02 are the SSL libraries' 32 px values (the paper's tau is 0.1 on ImageNet).
_base_ = "_cifar10.py"
method = dict(type="nnclr", arch="cifar_resnet18", proj_dims=(2048, 2048, 256), pred_dims=(4096, 256),
              queue_size=16384, temperature=0.2)
_view = dict(size=32, crop_scale=(0.08, 1.0), jitter=(0.4, 0.4, 0.4, 0.1), jitter_p=0.8, gray_p=0.2)
views = [_view, _view]
optimizer = dict(type="LARS", base_lr=0.4, momentum=0.9, weight_decay=1e-5, eta=0.02)
warmup_epochs = 10
