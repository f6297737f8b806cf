# Linear evaluation of MoCo v1/v2 (He et al. 2020, Sec. 4.1; Chen et al. 2020 'Improved Baselines'):
# frozen ResNet-50, SGD lr 30, momentum 0.9, weight decay 0, batch 256, 100 epochs, lr x 0.1 at
# epochs 60 and 80 (the step schedule of MoCo's main_lincls.py; its --cos option is schedule="cosine").
_base_ = ["./default.py"]
tasks = ["linear_sgd"]
datasets = ["imagefolder:data/imagenet"]

linear_sgd = dict(
    type="linear_sgd",
    epochs=100,
    batch_size=256,
    optimizer="sgd",
    lr=30.0,
    momentum=0.9,
    weight_decay=0.0,
    nesterov=False,
    schedule="step",
    milestones=[60, 80],
    gamma=0.1,
    crop_scale=[0.08, 1.0],   # RandomResizedCrop(224) + flip; test: resize 256, centre crop 224
    flip=True,
    init_std=0.01,
    eval_batch_size=256,
    num_workers=-1,
)
