# The VOC07+12 recipe with Faster R-CNN R18-FPN (FPN channels stay 256; res2 has 64 channels).
_base_ = ["./detection_voc_r50_fpn.py"]
detection = dict(depth=18)
