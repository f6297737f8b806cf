# The VOC07+12 recipe with Faster R-CNN R50-FPN (Lin et al. 2017) in place of C4: SyncBN in the
# backbone and the FPN, the same schedule, sizes and normalisation as detection_voc_r50_c4.py.
_base_ = ["./detection_voc_r50_c4.py"]
detection = dict(meta_arch="FPN", res5_extra_norm=False, fpn_norm="SyncBN")
