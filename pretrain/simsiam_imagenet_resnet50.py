# SimSiam on ImageNet (Chen & He 2021, Sec. 4 and App. A): batch 512, SGD momentum 0.9,
# lr = 0.05 x batch / 256, wd 1e-4, cosine decay, predictor lr fixed, 100 epochs; 3-layer
# projector 2048, predictor hidden 512; MoCo v2 augmentation (blur p=0.5, crop 224 from (0.2, 1)).
_base_ = "_imagenet.py"
method = dict(type="simsiam", arch="resnet50", arch_options=dict(zero_init_residual=True), dim=2048, proj_layers=3,
              pred_hidden=512, stop_gradient=True)
_view = dict(size=224, crop_scale=(0.2, 1.0), jitter=(0.4, 0.4, 0.4, 0.1), jitter_p=0.8, gray_p=0.2, blur_p=0.5)
views = [_view, _view]
epochs = 100
batch_size = 512
warmup_epochs = 0
optimizer = dict(type="SGD", base_lr=0.05, momentum=0.9, weight_decay=1e-4)
