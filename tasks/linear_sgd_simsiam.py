# Linear evaluation of SimSiam (Chen & He 2021, App. A): frozen ResNet-50, LARS (You et al. 2017,
# trust coefficient 0.001, the task's default), base lr 0.02 x batch 4096 / 256 = 0.32, momentum
# 0.9, weight decay 0, 90 epochs, cosine decay. Everything else (head init, crop and flip, test
# transform) as MoCo's recipe.
_base_ = ["./linear_sgd_moco.py"]

linear_sgd = dict(
    epochs=90,
    batch_size=4096,
    optimizer="lars",
    lr=0.32,                  # 0.02 * 4096 / 256
    schedule="cosine",
)
