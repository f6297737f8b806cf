# DINOv2's linear semantic segmentation on PASCAL VOC 2012 (Oquab et al. 2024, Sec. 7.4, "lin."; the
# released dinov2_vit*14_voc2012_linear_config.py): frozen backbone, BatchNorm + 1x1 conv on the last
# layer's patch tokens, AdamW lr 1e-3 wd 1e-4, 40k iterations at batch 16, 1,500 warm-up iterations
# then linear decay, 512 crops, test images scaled into (2048, 512) and slid in 512 windows, stride
# 341; mIoU over the 21 classes, the 255 border ignored. These are the segmentation task's defaults.
# Data: DATA_ROOT/VOCdevkit/VOC2012 (train 1,464 / val 1,449); --download fetches it via torchvision.
tasks = ["segmentation"]
datasets = ["voc2012seg"]

segmentation = dict(crop_size=512, stride=341, iters=40000, batch_size=16)
