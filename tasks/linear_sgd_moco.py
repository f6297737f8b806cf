# Linear evaluation of MoCo v1/v2 (He et al. 2020, Sec. 4.1; Chen et al. 2020 'Improved Baselines'):
# frozen ResNet-50, SGD lr 30, momentum 0.9, weight decay 0, batch 256, 100 epochs (the task's
# defaults), with the step schedule of MoCo's main_lincls.py: lr x 0.1 at epochs 60 and 80 (its
# --cos option is the default schedule="cosine"). RandomResizedCrop(224) + flip; test: resize 256,
# centre crop 224.
tasks = ["linear_sgd"]
datasets = ["imagefolder:data/imagenet"]

linear_sgd = dict(schedule="step")
