# MAE's linear probing (He et al. 2022, 'Masked Autoencoders Are Scalable Vision Learners', App. A.2;
# facebookresearch/mae main_linprobe.py and FINETUNE.md): BatchNorm without affine parameters before
# the linear head, LARS, base lr 0.1 x batch / 256, weight decay 0, batch 16,384, 90 epochs with 10
# warm-up epochs and a cosine to 0, on the final-norm class token (MAE's --cls_token). These are the
# linear_bn task's defaults; the features are cached, so MAE's RandomResizedCrop is not applied
# (the row says so). MAE trains ViT-L/H for 50 epochs: --cfg-options linear_bn.epochs=50.
tasks = ["linear_bn"]
datasets = ["digits"]

features = dict(mode="cls")  # a ViT's class token after the final norm (ResNets: drop features.mode)
