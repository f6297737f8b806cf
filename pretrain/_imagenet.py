# Shared settings of the *_imagenet_resnet50 recipes: the papers' ImageNet set-ups. Workers decode
# and resize to 256 px uint8 (short side + centre crop, a simplification: the random crop is then
# taken on the GPU from that square); ResNet-50; sync BN over the global batch; no online kNN.
data = dict(dataset="imagefolder:data/imagenet", root="data", in_memory=False, store_size=256, num_workers=16)
seed = 0
log_interval = 100
checkpoint_interval = 1
compile = True
sync_bn = True
amp = True
monitor = dict(knn_interval=0)
