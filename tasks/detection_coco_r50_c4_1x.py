# COCO counterpart of the MoCo detection recipe (He et al. 2020, Sec. 4.2, the 1x schedule):
# R50-C4 with the extra res5 norm and SyncBN, train2017 -> val2017, 90k iterations at batch 16,
# lr 0.02 (x0.1 at 60k and 80k), train shortest side 640..800 step 32, test 800. MoCo trains
# Mask R-CNN; this is its box branch only (Faster R-CNN), so compare box AP with box AP.
_base_ = ["./detection_voc_r50_c4.py"]
datasets = ["coco2017"]
detection = dict(max_iter=90000, steps=[60000, 80000], min_size_train=list(range(640, 801, 32)))
seeds = [0]  # one run per checkpoint (90k iterations each); --seeds 0,1,2 for more
