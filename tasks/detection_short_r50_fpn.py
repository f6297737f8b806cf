# SHORT schedule (see detection_short_r18_fpn.py) with Faster R-CNN R50-FPN.
_base_ = ["./detection_short_r18_fpn.py"]
detection = dict(depth=50)
