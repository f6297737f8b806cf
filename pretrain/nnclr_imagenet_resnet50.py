# NNCLR on ImageNet (Dwibedi et al. 2021, Sec. 4.1 and 4.3): batch 4096, queue 98,304, tau 0.1,
# projector [2048, 2048, 256], predictor [256, 4096, 256], BYOL's augmentations, LARS with warm-up
# and cosine. The lr/wd follow SimCLR's LARS set-up (0.3 x batch / 256, wd 1e-6); check them
# against the paper's Sec. 4.1 before a full run.
_base_ = "_imagenet.py"
method = dict(type="nnclr", arch="resnet50", proj_dims=(2048, 2048, 256), pred_dims=(4096, 256),
              queue_size=98304, temperature=0.1)
_view = dict(size=224, crop_scale=(0.08, 1.0), jitter=(0.4, 0.4, 0.2, 0.1), jitter_p=0.8, gray_p=0.2)
views = [dict(_view, blur_p=1.0, solarize_p=0.0), dict(_view, blur_p=0.1, solarize_p=0.2)]
epochs = 1000
batch_size = 4096
warmup_epochs = 10
optimizer = dict(type="LARS", base_lr=0.3, momentum=0.9, weight_decay=1e-6, eta=0.001)
