# Linear evaluation of SimSiam (Chen & He 2021, App. A): frozen ResNet-50, LARS (You et al. 2017),
# base lr 0.02 x batch 4096 / 256 = 0.32, momentum 0.9, weight decay 0, 90 epochs, cosine decay.
_base_ = ["./default.py"]
tasks = ["linear_sgd"]
datasets = ["imagefolder:data/imagenet"]

linear_sgd = dict(
    type="linear_sgd",
    epochs=90,
    batch_size=4096,
    optimizer="lars",
    lr=0.32,                  # 0.02 * 4096 / 256
    momentum=0.9,
    weight_decay=0.0,
    nesterov=False,
    schedule="cosine",
    lars_eta=0.001,
    crop_scale=[0.08, 1.0],   # RandomResizedCrop(224) + flip; test: resize 256, centre crop 224
    flip=True,
    init_std=0.01,
    eval_batch_size=256,
    num_workers=-1,
)
