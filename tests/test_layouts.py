"""A corpus of real-world ResNet checkpoint layouts, each built the way its project's save code
writes it (repository and file named per builder), with weights of a real torchvision (or timm)
model. Every one must load with 0 missing keys through the loader ``evalsuite eval`` uses, with
no flag beyond ``--arch`` where the file cannot tell, and give back exactly the backbone the
project itself evaluates (DINO's teacher, MoCo's query encoder, BYOL's online network).

Heads and hidden sizes are shrunk (e.g. a 256-d MoCo v3 MLP instead of 4096) to keep files small;
the names and nesting are the projects' own.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import resnet18 as tv_resnet18
from torchvision.models import resnet50 as tv_resnet50

from evalsuite.checkpoint import inspect_checkpoint, load_backbone
from evalsuite.cli import main
from evalsuite.errors import EvalsuiteError
from tests.fixtures.checkpoints import write_checkpoint
from tests.fixtures.detectron2_keys import detectron2_state, model_key, moco_detectron2_pkl, randomise_batchnorm



@functools.cache
def _built(factory, **kwargs) -> nn.Module:
    return factory(**kwargs)


def resnet18(**kwargs) -> nn.Module:
    """A torchvision ResNet-18 (weights=None), initialised once per session and copied: a random
    init costs more than a copy, and every layout re-draws its BN statistics anyway."""
    return copy.deepcopy(_built(tv_resnet18, **kwargs))


def resnet50() -> nn.Module:
    return copy.deepcopy(_built(tv_resnet50))

GEN_CHILDREN = {"conv1": 0, "bn1": 1, "layer1": 2, "layer2": 3, "layer3": 4, "layer4": 5}


def _stats(model: nn.Module, seed: int) -> nn.Module:
    """Non-trivial BN statistics, different per copy, so a teacher/student mix-up shows."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return model


def _ema_copy(model: nn.Module, seed: int) -> nn.Module:
    """A momentum/EMA copy: same structure, different values."""
    other = _stats(copy.deepcopy(model), seed)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.01)
    return other


def _cifar_stem(model: nn.Module) -> nn.Module:
    """solo-learn's CIFAR change (solo/methods/base.py): 3x3 stride-1 conv1, no max-pool."""
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=2, bias=False)
    model.maxpool = nn.Identity()
    return model


def _backbone(model: nn.Module) -> dict[str, torch.Tensor]:
    """What should come back: the arch's keys (no fc), values of ``model``."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}


class _Wrap(nn.Module):
    """A module with the given children, to get their state dict under their attribute names."""

    def __init__(self, **children: nn.Module) -> None:
        super().__init__()
        for name, child in children.items():
            setattr(self, name, child)


def _ddp(model: nn.Module) -> dict:
    """``model.state_dict()`` of a model wrapped in (Distributed)DataParallel: keys under ``module.``."""
    return nn.DataParallel(model).state_dict()


def _mlp(num_layers: int, dim_in: int, hidden: int, dim_out: int, last_bn: bool = True) -> nn.Sequential:
    """MoCo v3's projector/predictor (facebookresearch/moco-v3 moco/builder.py ``_build_mlp``)."""
    layers = []
    for i in range(num_layers):
        d1, d2 = dim_in if i == 0 else hidden, dim_out if i == num_layers - 1 else hidden
        layers.append(nn.Linear(d1, d2, bias=False))
        if i < num_layers - 1:
            layers += [nn.BatchNorm1d(d2), nn.ReLU(inplace=True)]
        elif last_bn:
            layers.append(nn.BatchNorm1d(d2, affine=False))
    return nn.Sequential(*layers)


def _sgd_state(model: nn.Module) -> dict:
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    return opt.state_dict()


# --- one builder per layout: returns (object to save, suffix, expected backbone, arch or None, kwargs)


def pytorch_imagenet_example():
    # pytorch/examples imagenet/main.py: model = torch.nn.DataParallel(model) (or DDP), then
    # save_checkpoint({'epoch', 'arch', 'state_dict': model.state_dict(), 'best_acc1', 'optimizer',
    # 'scheduler'}); best_acc1 is the tensor top1.avg.
    model = _stats(resnet18(), 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    obj = {"epoch": 90, "arch": "resnet18", "state_dict": _ddp(model), "best_acc1": torch.tensor(69.76),
           "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
    return obj, ".pth.tar", _backbone(model), "resnet18", {}


def cifar_resnet20_user_arch():
    # The issue's own file: akamaster/pytorch_resnet_cifar10 trainer.py wraps the model in
    # torch.nn.DataParallel and saves save_checkpoint({'state_dict': model.state_dict(),
    # 'best_prec1': best_prec1}, ..., 'model.th'); the arch is the user's callable.
    from tests.fixtures.cifar_resnet20 import classifier

    model = _stats(classifier(), 2)
    expected = {k: v for k, v in model.state_dict().items() if not k.startswith("linear.")}
    obj = {"state_dict": _ddp(model), "best_prec1": 91.73}
    return obj, ".th", expected, "tests.fixtures.cifar_resnet20:resnet20", {"arch": "tests.fixtures.cifar_resnet20:resnet20"}


def simsiam_official():
    # facebookresearch/simsiam simsiam/builder.py (encoder = resnet(num_classes=dim) whose fc becomes
    # the 3-layer projection MLP; predictor) and main_simsiam.py save_checkpoint({'epoch', 'arch',
    # 'state_dict': model.state_dict(), 'optimizer'}) of the DDP model.
    dim, pred_dim = 128, 32
    encoder = _stats(resnet18(num_classes=dim, zero_init_residual=True), 3)
    prev = encoder.fc.weight.shape[1]
    encoder.fc = nn.Sequential(nn.Linear(prev, prev, bias=False), nn.BatchNorm1d(prev), nn.ReLU(inplace=True),
                               nn.Linear(prev, prev, bias=False), nn.BatchNorm1d(prev), nn.ReLU(inplace=True),
                               encoder.fc, nn.BatchNorm1d(dim, affine=False))
    predictor = nn.Sequential(nn.Linear(dim, pred_dim, bias=False), nn.BatchNorm1d(pred_dim), nn.ReLU(inplace=True),
                              nn.Linear(pred_dim, dim))
    model = _Wrap(encoder=encoder, predictor=predictor)
    obj = {"epoch": 100, "arch": "resnet18", "state_dict": _ddp(model), "optimizer": _sgd_state(model)}
    return obj, ".pth.tar", _backbone(encoder), "resnet18", {}


def _moco(mlp: bool):
    # facebookresearch/moco moco/builder.py: encoder_q/encoder_k = base_encoder(num_classes=dim),
    # fc -> Sequential(Linear, ReLU, fc) when mlp (v2); buffers queue (dim, K) and queue_ptr.
    # main_moco.py: save_checkpoint({'epoch', 'arch', 'state_dict', 'optimizer'}) of the DDP model.
    dim, queue = 128, 1024
    enc_q = _stats(resnet18(num_classes=dim), 4)
    if mlp:
        enc_q.fc = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), enc_q.fc)
    enc_k = _ema_copy(enc_q, 5)
    model = _Wrap(encoder_q=enc_q, encoder_k=enc_k)
    model.register_buffer("queue", nn.functional.normalize(torch.randn(dim, queue), dim=0))
    model.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))
    obj = {"epoch": 200, "arch": "resnet18", "state_dict": _ddp(model), "optimizer": _sgd_state(model)}
    return obj, ".pth.tar", _backbone(enc_q), "resnet18", {}


def moco_v1():
    return _moco(mlp=False)


def moco_v2():
    return _moco(mlp=True)


def moco_v3_resnet():
    # facebookresearch/moco-v3 moco/builder.py MoCo_ResNet: base/momentum encoders whose fc is
    # _build_mlp(2, 2048|512, mlp_dim, dim), predictor _build_mlp(2, dim, mlp_dim, dim, False);
    # main_moco.py save_checkpoint({'epoch', 'arch', 'state_dict', 'optimizer', 'scaler'}).
    dim, mlp_dim = 64, 256
    base = _stats(resnet18(num_classes=mlp_dim, zero_init_residual=True), 6)
    hidden = base.fc.weight.shape[1]
    del base.fc
    base.fc = _mlp(2, hidden, mlp_dim, dim)
    momentum = _ema_copy(base, 7)
    model = _Wrap(base_encoder=base, momentum_encoder=momentum, predictor=_mlp(2, dim, mlp_dim, dim, False))
    scaler = {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000, "_growth_tracker": 0}
    obj = {"epoch": 100, "arch": "resnet18", "state_dict": _ddp(model), "optimizer": _sgd_state(model), "scaler": scaler}
    return obj, ".pth.tar", _backbone(base), "resnet18", {}


@functools.cache
def _dino_resnet():
    # facebookresearch/dino main_dino.py: for a torchvision arch, student and teacher are
    # MultiCropWrapper(backbone with fc=Identity, DINOHead(embed_dim, out_dim, use_bn)); with batch
    # norms both are DDP-wrapped (module.backbone.*, module.head.*), and
    # save_dict = {'student', 'teacher', 'optimizer', 'epoch', 'args', 'dino_loss'} (+ 'fp16_scaler').
    def wrapper(seed):
        backbone = _stats(resnet18(), seed)
        backbone.fc = nn.Identity()
        mlp = nn.Sequential(nn.Linear(512, 64), nn.GELU(), nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 32))
        last = nn.utils.parametrizations.weight_norm(nn.Linear(32, 128, bias=False))
        return _Wrap(backbone=backbone, head=_Wrap(mlp=mlp, last_layer=last))

    student, teacher = wrapper(8), wrapper(9)
    args = argparse.Namespace(arch="resnet18", patch_size=16, out_dim=128, norm_last_layer=True, momentum_teacher=0.996,
                              use_bn_in_head=False, lr=0.03, epochs=100, seed=0, output_dir="./out", gpu=0, rank=0)
    dino_loss = _Wrap()
    dino_loss.register_buffer("center", torch.zeros(1, 128))
    obj = {"student": _ddp(student), "teacher": _ddp(teacher), "optimizer": _sgd_state(student), "epoch": 100,
           "args": args, "dino_loss": dino_loss.state_dict()}
    return obj, student, teacher


def dino_resnet_teacher():
    obj, _, teacher = _dino_resnet()
    return obj, ".pth", _backbone(teacher.backbone), "resnet18", {}


def dino_resnet_student():
    obj, student, _ = _dino_resnet()
    return obj, ".pth", _backbone(student.backbone), "resnet18", {"key": "student"}


def solo_learn_byol_cifar():
    # vturrisi/solo-learn solo/methods/base.py (backbone with fc=Identity and, for CIFAR, a 3x3
    # conv1 and no max-pool; online ``classifier``) and byol.py / BaseMomentumMethod (projector,
    # predictor, momentum_backbone, momentum_projector); saved by Lightning's ModelCheckpoint.
    backbone = _stats(_cifar_stem(resnet18()), 10)
    backbone.fc = nn.Identity()
    module = _Wrap(backbone=backbone, classifier=nn.Linear(512, 10), projector=_mlp(2, 512, 256, 64),
                   predictor=_mlp(2, 64, 256, 64), momentum_backbone=_ema_copy(backbone, 11),
                   momentum_projector=_mlp(2, 512, 256, 64))
    obj = {"epoch": 999, "global_step": 195000, "pytorch-lightning_version": "2.1.3", "state_dict": module.state_dict(),
           "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 1000, "completed": 999}}}},
           "callbacks": {}, "optimizer_states": [_sgd_state(module)], "lr_schedulers": [{"last_epoch": 999}]}
    return obj, ".ckpt", _backbone(backbone), "cifar_resnet18", {}


def lightly_resnet():
    # lightly-ai/lightly examples/pytorch_lightning/*.py: backbone = nn.Sequential(*list(resnet.children())[:-1])
    # of a torchvision ResNet, a projection head, saved by Lightning.
    resnet = _stats(resnet18(), 12)
    model = _Wrap(backbone=nn.Sequential(*list(resnet.children())[:-1]),
                  projection_head=_Wrap(layers=nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 128))))
    obj = {"epoch": 199, "global_step": 39000, "pytorch-lightning_version": "2.0.9", "state_dict": model.state_dict()}
    return obj, ".ckpt", _backbone(resnet), "resnet18", {}


def lightly_cifar_generator():
    # lightly-ai/lightly lightly/models/resnet.py ResNetGenerator('resnet-18'): children conv1, bn1,
    # layer1..4, linear, blocks with ``shortcut``; its CIFAR benchmarks keep
    # nn.Sequential(*list(resnet.children())[:-1]) as ``backbone``. Built here from a torchvision
    # CIFAR-stem ResNet-18 renamed the way that module names its weights.
    resnet = _stats(_cifar_stem(resnet18()), 13)
    sd = {}
    for key, value in _backbone(resnet).items():
        child, _, rest = key.partition(".")
        sd[f"backbone.{GEN_CHILDREN[child]}.{rest.replace('downsample.', 'shortcut.')}"] = value
    sd["projection_head.layers.0.weight"] = torch.randn(512, 512)
    obj = {"epoch": 799, "pytorch-lightning_version": "1.9.5", "state_dict": sd}
    return obj, ".ckpt", _backbone(resnet), "cifar_resnet18", {}


def vissl_resnet():
    # facebookresearch/vissl: the checkpoint saver stores {'phase_idx', 'iteration', 'loss',
    # 'iteration_num', 'train_phase_idx', 'classy_state_dict': task.get_classy_state()}, whose
    # base_model.model holds 'trunk' (ResNeXt trunk: _feature_blocks.conv1 ...) and 'heads'.
    resnet = _stats(resnet18(), 14)
    trunk = {f"_feature_blocks.{k}": v for k, v in _backbone(resnet).items()}
    heads = {"0.clf.0.weight": torch.randn(128, 512), "0.clf.0.bias": torch.zeros(128)}
    classy = {"train": True, "base_model": {"model": {"trunk": trunk, "heads": heads}, "meta": {}},
              "optimizer": {"state": {}, "param_groups": []}, "phase_idx": 399, "train_phase_idx": 199, "num_updates": 1000}
    obj = {"phase_idx": 399, "iteration": 200000, "loss": {}, "iteration_num": 200000, "train_phase_idx": 199,
           "classy_state_dict": classy, "type": "consolidated"}
    return obj, ".torch", _backbone(resnet), "resnet18", {}


def mmpretrain_mmengine():
    # open-mmlab/mmengine runner/runner.py save_checkpoint: {'meta': {epoch, iter, cfg, seed,
    # experiment_name, time, mmengine_version, dataset_meta}, 'state_dict', 'message_hub':
    # message_hub.state_dict() (HistoryBuffers), 'optimizer', 'param_schedulers'}; mmpretrain's
    # ResNet names its weights as torchvision does, under backbone., with neck. and head. beside.
    from mmengine.logging import MessageHub

    resnet = _stats(resnet18(), 15)
    hub = MessageHub.get_instance("evalsuite-test-layouts")
    for step in range(3):
        hub.update_scalar("train/loss", 2.0 - 0.1 * step)
        hub.update_scalar("train/lr", 0.1)
    hub.update_info("epoch", 200)
    hub.update_info("iter", 1000)
    sd = {**{f"backbone.{k}": v for k, v in _backbone(resnet).items()},
          "neck.mlp.0.weight": torch.randn(256, 512), "head.predictor.0.weight": torch.randn(256, 256)}
    meta = {"epoch": 200, "iter": 1000, "cfg": "model = dict(type='SimSiam')\n", "seed": 0,
            "experiment_name": "simsiam_resnet18_8xb32-coslr-200e_in1k", "time": "20260101_000000",
            "mmengine_version": "0.10.7", "dataset_meta": {"classes": ("a", "b")}}
    obj = {"meta": meta, "state_dict": sd, "message_hub": hub.state_dict(), "optimizer": {"state": {}, "param_groups": []},
           "param_schedulers": [{"last_step": 200, "by_epoch": True}]}
    return obj, ".pth", _backbone(resnet), "resnet18", {}


def timm_train_ema():
    # huggingface/pytorch-image-models timm/utils/checkpoint_saver.py: {'epoch', 'arch': args.model,
    # 'state_dict', 'optimizer', 'version': 2, 'args', 'state_dict_ema', 'metric'}; timm's validate.py
    # and clean_checkpoint.py load state_dict unless --use-ema, so state_dict is the default here too.
    import timm

    model = _stats(timm.create_model("resnet18", pretrained=False), 16)
    ema = _ema_copy(model, 17)
    args = argparse.Namespace(model="resnet18", lr=0.5, epochs=100, model_ema=True, model_ema_decay=0.9998)
    obj = {"epoch": 99, "arch": "resnet18", "state_dict": model.state_dict(), "optimizer": _sgd_state(model),
           "version": 2, "args": args, "state_dict_ema": ema.state_dict(), "metric": 71.2}
    return obj, ".pth.tar", _backbone(model), "resnet18", {}


def detectron2_pkl_from_moco():
    # facebookresearch/moco detection/convert-pretrain-to-detectron2.py run on a MoCo v2 checkpoint
    # (main_moco.py's, as moco_v2 above): the query encoder renamed by that script's own rules,
    # its fc as stem.fc.*, num_batches_tracked as 0-d numpy arrays, pickled.
    obj, _, expected, arch, _ = _moco(mlp=True)
    return moco_detectron2_pkl(obj["state_dict"]), ".pkl", expected, arch, {}


def detectron2_trained_fpn():
    # facebookresearch/detectron2 checkpoint/detection_checkpoint.py (fvcore Checkpointer.save):
    # {'model': model.state_dict(), 'optimizer', 'scheduler', 'iteration'}; an FPN model keeps the
    # ResNet under backbone.bottom_up. (FrozenBN: no num_batches_tracked). Named by the test's own
    # map of detectron2's modules (tests/fixtures/detectron2_keys.py), not by evalsuite's.
    resnet = randomise_batchnorm(resnet50(), 19)
    expected = {k: v for k, v in _backbone(resnet).items() if not k.endswith("num_batches_tracked")}
    sd = {model_key(k, "FPN"): v for k, v in detectron2_state(expected).items()}
    sd.update({"backbone.fpn_lateral2.weight": torch.randn(256, 256, 1, 1),
               "proposal_generator.rpn_head.conv.weight": torch.randn(256, 256, 3, 3),
               "roi_heads.box_predictor.cls_score.weight": torch.randn(21, 1024)})
    obj = {"model": sd, "optimizer": {"state": {}, "param_groups": []}, "scheduler": {"last_epoch": 18000},
           "iteration": 17999}
    return obj, ".pth", expected, "resnet50", {}


def byol_lucidrains_trainer():
    # lucidrains/byol-pytorch byol_pytorch/trainer.py: torch.save(self.net.state_dict(), ...) of
    # the torchvision ResNet being trained (classifier fc included).
    resnet = _stats(resnet18(), 20)
    return resnet.state_dict(), ".pt", _backbone(resnet), "resnet18", {}


def byol_lucidrains_learner():
    # lucidrains/byol-pytorch byol_pytorch/byol_pytorch.py: BYOL keeps ``net``, the online
    # NetWrapper (``online_encoder.net``, ``online_encoder.projector``), the deep-copied
    # ``target_encoder`` and ``online_predictor``; saved with torch.save(learner.state_dict()).
    resnet = _stats(resnet18(), 21)
    online = _Wrap(net=resnet, projector=nn.Sequential(nn.Linear(512, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 64)))
    learner = _Wrap(net=resnet, online_encoder=online, target_encoder=_ema_copy(online, 22),
                    online_predictor=nn.Sequential(nn.Linear(64, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 64)))
    return learner.state_dict(), ".pt", _backbone(resnet), "resnet18", {}


def torchvision_resnet50_plain():
    # pytorch/vision: torch.save(resnet50().state_dict()), the layout of its released weight files.
    resnet = _stats(resnet50(), 23)
    return resnet.state_dict(), ".pth", _backbone(resnet), "resnet50", {}


LAYOUTS = {f.__name__: f for f in (
    pytorch_imagenet_example, cifar_resnet20_user_arch, simsiam_official, moco_v1, moco_v2, moco_v3_resnet,
    dino_resnet_teacher, dino_resnet_student, solo_learn_byol_cifar, lightly_resnet, lightly_cifar_generator,
    vissl_resnet, mmpretrain_mmengine, timm_train_ema, detectron2_pkl_from_moco, detectron2_trained_fpn,
    byol_lucidrains_trainer, byol_lucidrains_learner, torchvision_resnet50_plain,
)}




@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Every layout written once per session: name -> (path, expected backbone, arch, load kwargs)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("layouts")
    out = {}
    for name, build in LAYOUTS.items():
        obj, suffix, expected, arch, kwargs = build()
        out[name] = (write_checkpoint(folder, name, obj, suffix), expected, arch, kwargs)
    return out


def test_corpus_is_large_enough():
    assert len(LAYOUTS) >= 15


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_layout_loads_the_evaluated_backbone(corpus, name):
    path, expected, arch, kwargs = corpus[name]
    model, info = load_backbone(path, **kwargs)
    assert info.arch == arch and info.report.ok, (info.how, info.report.problem())
    assert info.report.missing == [] and info.report.matched == info.report.total
    got = model.state_dict()
    for key, value in expected.items():
        if not key.endswith("num_batches_tracked"):
            torch.testing.assert_close(got[key], value.float(), rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("name", ["pytorch_imagenet_example", "moco_v2", "dino_resnet_student", "mmpretrain_mmengine",
                                  "cifar_resnet20_user_arch"])
def test_inspect_command_prints_the_path_taken(corpus, name, capsys):
    path, _, arch, kwargs = corpus[name]
    flags = [f"--{k}={v}" for k, v in kwargs.items()]
    assert main(["inspect", str(path), "--json", *flags]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["missing"] == 0 and info["arch"] == arch and info["loaded"]


def test_path_names_strip_and_dropped_head(corpus):
    info = inspect_checkpoint(corpus["pytorch_imagenet_example"][0])
    assert info.how == "state_dict -> strip 'module.' -> 100/100 backbone tensors; dropped: module.fc.weight, module.fc.bias"


def test_conventions_are_named_and_key_overrides(corpus):
    dino = corpus["dino_resnet_teacher"][0]
    info = inspect_checkpoint(dino)
    assert info.meta["loaded_from"] == "teacher.module.backbone" and "DINO evaluates the teacher" in info.how
    assert inspect_checkpoint(dino, key="student").meta["loaded_from"] == "student.module.backbone"
    moco = inspect_checkpoint(corpus["moco_v2"][0])
    assert moco.meta["loaded_from"] == "state_dict.module.encoder_q" and "module.encoder_k.* (124), module.encoder_q.fc.* (4)" in moco.how
    k = inspect_checkpoint(corpus["moco_v2"][0], key="state_dict.module.encoder_k")
    assert k.meta["loaded_from"] == "state_dict.module.encoder_k"
    with pytest.raises(EvalsuiteError, match=r"--key 'teachr' names nothing.*candidates are: .*teacher.module.backbone"):
        inspect_checkpoint(dino, key="teachr")


def test_two_backbones_without_a_convention_ask_for_key(tmp_path):
    sd = _backbone(_stats(resnet18(), 30))
    other = {k: v + 1 if v.is_floating_point() else v for k, v in sd.items()}
    torch.save({"model_a": sd, "model_b": other}, tmp_path / "two.pth")
    with pytest.raises(EvalsuiteError, match=r"holds 2 complete backbones \(model_a, model_b\).*pick one with --key"):
        load_backbone(tmp_path / "two.pth")
    _, info = load_backbone(tmp_path / "two.pth", key="model_b")
    assert info.meta["loaded_from"] == "model_b"


def test_failure_shows_the_closest_candidate_and_what_it_lacked(tmp_path, capsys):
    sd = _ddp(_stats(resnet18(), 31))
    del sd["module.layer4.1.bn2.weight"]
    torch.save({"state_dict": sd, "epoch": 3}, tmp_path / "cut.pth")
    assert main(["inspect", str(tmp_path / "cut.pth"), "--arch", "resnet18"]) == 1
    out = capsys.readouterr().out
    assert "closest candidate: state_dict -> strip 'module.' -> 99/100 backbone tensors" in out
    assert "1 missing key(s) such as layer4.1.bn2.weight" in out
    assert main(["eval", str(tmp_path / "cut.pth"), "--results", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "fits no registered arch exactly" in err and "99/100" in err and "layer4.1.bn2.weight" in err


def test_extra_blocks_are_not_taken_for_a_head(tmp_path):
    """A ResNet-34 file holds every ResNet-18 key with the right shape, plus more blocks: refused."""
    from torchvision.models import resnet34

    torch.save(resnet34().state_dict(), tmp_path / "r34.pth")
    with pytest.raises(EvalsuiteError, match=r"unexpected key\(s\) such as layer1.2"):
        load_backbone(tmp_path / "r34.pth", arch="resnet18")
    assert load_backbone(tmp_path / "r34.pth")[1].arch == "resnet34"


def test_nonfinite_weights_are_refused_with_the_count(tmp_path):
    sd = _stats(resnet18(), 32).state_dict()
    sd["layer1.0.conv1.weight"][0, 0, 0, 0] = float("nan")
    sd["layer2.0.bn1.running_var"][3] = float("inf")
    torch.save(sd, tmp_path / "nan.pth")
    with pytest.raises(EvalsuiteError, match=r"NaN or inf in 2 backbone tensor\(s\).*--allow-nonfinite"):
        load_backbone(tmp_path / "nan.pth")
    _, info = load_backbone(tmp_path / "nan.pth", allow_nonfinite=True)
    assert info.meta["nonfinite_tensors"] == 2


def test_half_precision_loads_and_integer_weights_are_refused(tmp_path):
    sd = _backbone(_stats(resnet18(), 33))
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in sd.items()}, tmp_path / "h.pth")
    model, _ = load_backbone(tmp_path / "h.pth")
    torch.testing.assert_close(model.state_dict()["conv1.weight"], sd["conv1.weight"].half().float())
    torch.save({**sd, "conv1.weight": sd["conv1.weight"].to(torch.int32)}, tmp_path / "i.pth")
    with pytest.raises(EvalsuiteError, match=r"unusable type such as conv1.weight \(torch.int32\)"):
        load_backbone(tmp_path / "i.pth", arch="resnet18")


def test_original_complaint_evaluates_end_to_end_and_rows_are_keyed_by_file(corpus, tmp_path):
    """The issue's file ({'state_dict': {'module.conv1.weight', ...}, 'best_prec1'}) with the user's
    own --arch pkg.module:callable, through ``evalsuite eval`` (kNN on digits); then a second file
    under the same --name with --skip-existing: a second row, not a skip or an overwrite."""
    from evalsuite.archs import build_backbone
    from evalsuite.leaderboard import build
    from evalsuite.results import read_rows

    path, _, arch, _ = corpus["cifar_resnet20_user_arch"]
    torch.save(build_backbone("resnet_tiny").state_dict(), tmp_path / "tiny.pth")
    results = tmp_path / "r"
    common = ["--name", "same", "--tasks", "knn", "--datasets", "digits", "--results", str(results), "--device", "cpu",
              "--quiet", "--skip-existing"]
    assert main(["eval", str(path), "--arch", arch, *common]) == 0
    (row_file,) = results.glob("*.json")
    row = json.loads(row_file.read_text())
    assert row["checkpoint"]["arch"] == arch and row["checkpoint"]["meta"]["loaded_from"] == "state_dict.module"
    assert row["checkpoint"]["sha256"][:12] in row_file.name
    assert main(["eval", str(tmp_path / "tiny.pth"), *common]) == 0
    rows = read_rows(results)
    assert len(rows) == 2 and len({r["checkpoint"]["sha256"] for r in rows}) == 2
    means, _ = build(rows)
    assert len(means.index) == 2 and all(name.startswith("same [") for name in means.index)


def test_arch_guessers_are_consulted_first(tmp_path):
    """An arch family's guesser (registry.ARCH_GUESSERS) puts its answer first; the loader still
    checks every key, so a wrong guess falls through to the registered archs."""
    from evalsuite.archs import build_backbone
    from evalsuite.checkpoint.archmatch import arch_order
    from evalsuite.registry import ARCH_GUESSERS

    seen = []

    def guess(tensors):
        seen.append(len(tensors))
        return "cifar_resnet50"  # wrong on purpose

    ARCH_GUESSERS.register_module("test-guess", module=guess)
    try:
        torch.save({"model": build_backbone("resnet_tiny").state_dict()}, tmp_path / "t.pth")
        sources = [("model", torch.load(tmp_path / "t.pth")["model"])]
        assert arch_order(None, None, sources)[0] == "cifar_resnet50" and seen
        assert load_backbone(tmp_path / "t.pth")[1].arch == "resnet_tiny"
    finally:
        ARCH_GUESSERS.module_dict.pop("test-guess")
