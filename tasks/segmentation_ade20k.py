# DINOv2's linear semantic segmentation on ADE20K (Oquab et al. 2024, Sec. 7.4, "lin."; the released
# dinov2_vit*14_ade20k_linear_config.py): the segmentation task's defaults (see
# tasks/segmentation_voc2012.py), 150 classes with mmsegmentation's reduce_zero_label (label 0,
# "other", ignored). Data: DATA_ROOT/ADEChallengeData2016 (the SceneParsing release, placed by hand).
tasks = ["segmentation"]
datasets = ["ade20k"]

segmentation = dict(crop_size=512, stride=341, iters=40000, batch_size=16)
