"""Published evaluation protocols shared by several zoo entries, in a result row's vocabulary.

``k``/``temperature``/``feature_mode``/``transform`` compare with the row's own settings
(``evalsuite.zoo.compare``); a ``*_LINEAR`` text is the published classifier's procedure, which
evalsuite's linear probe (L-BFGS logistic regression on frozen centre-crop features, the L2
penalty chosen on validation data; Kornblith et al. 2019, App. A.3) does not reproduce.
"""

#: The DINO evaluation crop (facebookresearch/dino eval_knn.py and eval_linear.py: Resize(256,
#: interpolation=3, i.e. bicubic), CenterCrop(224)); evalsuite's resize256-crop224 is bilinear.
BICUBIC_CROP = "resize256-bicubic-crop224"

#: Weighted kNN of Wu et al. 2018 as DINO runs it (Caron et al. 2021, Sec. 4.1 and App. B; eval_knn.py:
#: T = 0.07, --nb_knn 10 20 100 200, the 20-NN figure reported): the same procedure as evalsuite's knn.
DINO_KNN = {"k": 20, "temperature": 0.07, "transform": BICUBIC_CROP}

DINO_LINEAR = ("SGD linear classifier on frozen features, 100 epochs on random-resized crops and flips "
               "(facebookresearch/dino eval_linear.py)")
MOCO_LINEAR = ("SGD linear classifier (lr 30, batch 256, 100 epochs) on frozen pooled features, random-resized "
               "crops and flips (facebookresearch/moco main_lincls.py)")
MOCOV3_LINEAR = ("momentum-SGD linear classifier, batch 1024, 90 epochs, random-resized crops and flips "
                 "(facebookresearch/moco-v3 main_lincls.py)")
SIMSIAM_LINEAR = ("LARS linear classifier, batch 4096, 90 epochs, random-resized crops and flips "
                  "(facebookresearch/simsiam main_lincls.py --lars)")
SWAV_LINEAR = ("SGD linear classifier on frozen pooled features, random-resized crops and flips "
               "(facebookresearch/swav eval_linear.py)")
BARLOW_LINEAR = ("SGD linear classifier on frozen features, random-resized crops and flips "
                 "(facebookresearch/barlowtwins evaluate.py --lr-classifier 0.1)")
DINOV2_LINEAR = ("linear classifiers on frozen class tokens of the last 1 or 4 blocks, with or without "
                 "average-pooled patch tokens, learning rate chosen on a validation split, random-resized-crop "
                 "training (facebookresearch/dinov2 dinov2/eval/linear.py)")
MAE_LINEAR = ("linear classifier after a BatchNorm without affine on the class token, LARS, batch 16384, "
              "90 epochs (facebookresearch/mae FINETUNE.md, main_linprobe.py)")
MAE_FINETUNE = ("end-to-end fine-tuning, 100 epochs, layer decay 0.65, mixup 0.8, cutmix 1.0, RandErase "
                "0.25, drop path 0.1 (facebookresearch/mae FINETUNE.md)")
MMPRETRAIN_LINEAR = ("SGD linear classifier, batch 4096 (8 x 512), 90 epochs, cosine schedule "
                     "(open-mmlab/mmpretrain configs/byol/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k.py)")
