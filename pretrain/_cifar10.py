# Shared settings of the *_cifar10_resnet18 recipes: CIFAR-10 train (50,000 images of 32 px) held
# as one uint8 tensor on the GPU, CIFAR-stem ResNet-18, batch 512, 200 epochs, online kNN
# (k=200, T=0.1) on the test split every 25 epochs (each a pass over 60,000 images). Data:
# DATA_ROOT/cifar10/{train,test} (the shared JPEG copy unpacks to exactly that) or torchvision's
# python batches.
data = dict(dataset="cifar10", root="data", in_memory=True, knn_split="test", num_workers=16)
epochs = 200
batch_size = 512
seed = 0
warmup_epochs = 0
log_interval = 50
checkpoint_interval = 20
compile = False  # measured on the H100 (bench/RESULTS.md): same 19-20k img/s either way, and compiling took about 3 min
sync_bn = False
amp = True
monitor = dict(knn_interval=25, knn_k=200, knn_t=0.1)
