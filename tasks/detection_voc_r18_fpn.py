# The VOC07+12 recipe with Faster R-CNN R18-FPN (FPN channels stay 256; res2 has 64 channels):
# detection_voc_r50_fpn.py at depth 18.
_base_ = ["./detection_voc_r50_c4.py"]
detection = dict(meta_arch="FPN", depth=18, res5_extra_norm=False, fpn_norm="SyncBN")
