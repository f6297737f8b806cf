# Linear evaluation on CIFAR-10 of a CIFAR-pre-trained backbone (32 px stem), in the setting of
# solo-learn's SimSiam CIFAR linear script (SGD lr 30, weight decay 0, batch 2 x 128, 100 epochs,
# random-resized crop + flip at 32 px), with cosine decay in place of its step decay at 60/80.
_base_ = ["./default.py"]
tasks = ["linear_sgd"]
datasets = ["cifar10"]

linear_sgd = dict(
    type="linear_sgd",
    epochs=100,
    batch_size=256,
    optimizer="sgd",
    lr=30.0,
    momentum=0.9,
    weight_decay=0.0,
    nesterov=False,
    schedule="cosine",
    crop_scale=[0.08, 1.0],
    flip=True,
    init_std=0.01,
    eval_batch_size=512,
    num_workers=-1,
)
