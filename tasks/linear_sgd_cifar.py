# Linear evaluation on CIFAR-10 of a CIFAR-pre-trained backbone (32 px stem), in the setting of
# solo-learn's SimSiam CIFAR linear script (SGD lr 30, weight decay 0, batch 2 x 128, 100 epochs,
# random-resized crop + flip at 32 px), with cosine decay in place of its step decay at 60/80.
# Everything else as MoCo's recipe.
_base_ = ["./linear_sgd_moco.py"]
datasets = ["cifar10"]

linear_sgd = dict(schedule="cosine", eval_batch_size=512)
