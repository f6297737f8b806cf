"""Checkpoint loading never ends in a traceback: load damaged variants of real checkpoint files.

Base files are real layouts (a plain state dict, the PyTorch ImageNet example's DDP file, DINO's
teacher/student dict with ``args``, an mmengine checkpoint with its message hub, a detectron2
``.pkl``, lightly's ``Sequential`` backbone, evalsuite's own format), written with the tiny
ResNet. Each variant is one kind of damage: bit flips, truncation, overwritten bytes, tensors of
another dtype (any torch dtype) or shape, dropped or extra keys, non-dict tops, odd tensors
(sparse, meta, empty, NaN/inf, non-contiguous, big-endian arrays), odd keys and deep or cyclic
nesting. Every variant goes through ``load_backbone`` (what ``evalsuite eval`` calls); each
outcome is a load, an ``EvalsuiteError`` whose one line names the file, or a traceback (any
other exception, or an error message without the file name).

``dtype_sweep`` then puts a weight of every dtype torch can store (float8 and float4 variants,
complex, quantized, bool, uint16/32/64, sub-byte ints, bits) into a plain state dict, and an
array of every numpy dtype (longdouble, clongdouble, strings, objects, datetimes, structured,
big-endian) into a detectron2 ``.pkl``, a ``torch.save``d dict of numpy arrays and an ``np.savez``
archive: no dtype may end in a traceback.

    python bench/checkpoint_fuzz.py --variants 600 --seed 0
"""

from __future__ import annotations

import argparse
import copy
import io
import pickle
import random
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from evalsuite.archs import build_backbone  # noqa: E402
from evalsuite.checkpoint import load_backbone, save_backbone  # noqa: E402
from evalsuite.checkpoint.formats.detectron2 import to_detectron2  # noqa: E402
from evalsuite.errors import EvalsuiteError  # noqa: E402

LIGHTLY = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}


def base_objects() -> dict[str, tuple[object, str]]:
    """name -> (object as its project saves it, suffix), all holding the tiny ResNet."""
    from mmengine.logging import MessageHub

    torch.manual_seed(0)
    sd = build_backbone("resnet_tiny").state_dict()
    ddp = {f"module.{k}": v for k, v in sd.items()}
    hub = MessageHub.get_instance("evalsuite-fuzz")
    hub.update_scalar("train/loss", 1.0)
    args = argparse.Namespace(arch="resnet_tiny", lr=0.1, seed=np.int64(0))
    return {
        "plain": (dict(sd), ".pth"),
        "imagenet_example": ({"epoch": 3, "arch": "resnet_tiny", "state_dict": ddp, "best_acc1": torch.tensor(12.5),
                              "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}}, ".pth.tar"),
        "dino": ({"teacher": {f"backbone.{k}": v for k, v in sd.items()},
                  "student": {f"module.backbone.{k}": v.clone() for k, v in sd.items()},
                  "epoch": 10, "args": args, "dino_loss": {"center": torch.zeros(1, 8)}}, ".pth"),
        "mmengine": ({"meta": {"epoch": 2, "mmengine_version": "0.10.7"}, "message_hub": hub.state_dict(),
                      "state_dict": {**{f"backbone.{k}": v for k, v in sd.items()}, "neck.w": torch.ones(4, 64)}}, ".pth"),
        "detectron2": ({"model": {k: v.numpy() for k, v in to_detectron2(sd).items()}, "__author__": "MOCO",
                        "matching_heuristics": True}, ".pkl"),
        "lightly": ({"pytorch-lightning_version": "2.0.0", "state_dict": {
            f"backbone.{LIGHTLY[k.split('.')[0]]}.{k.split('.', 1)[1]}": v for k, v in sd.items()}}, ".ckpt"),
        "evalsuite": (None, ".pth"),  # written by save_backbone
    }


def _write(path: Path, obj, suffix: str) -> None:
    if suffix == ".pkl":
        path.write_bytes(pickle.dumps(obj))
    else:
        torch.save(obj, path)


def _tensors(obj) -> list[tuple[dict, str]]:
    """(container, key) of every tensor or array in ``obj``."""
    out, stack = [], [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, (torch.Tensor, np.ndarray)):
                    out.append((node, k))
                elif isinstance(v, (dict, list)):
                    stack.append(v)
    return out


#: Every dtype of this torch build (the set grows with torch: float8/float4, uint16-64, sub-byte ints).
TORCH_DTYPES = sorted({v for v in vars(torch).values() if isinstance(v, torch.dtype)}, key=str)


def as_dtype(f: torch.Tensor, dtype: torch.dtype) -> torch.Tensor | None:
    """``f`` (float32) as ``dtype`` however torch can make it (cast, quantize, reinterpret raw
    bytes, or uninitialised); None when this build cannot make a tensor of it at all."""
    makers = [lambda: f.to(dtype)]
    if "q" in str(dtype).split(".")[-1][:2]:  # qint8, quint8, qint32, quint4x2, quint2x4
        makers.insert(0, lambda: torch.quantize_per_tensor(f, 0.1, 0, dtype))
    makers += [lambda: torch.zeros(f.shape, dtype=torch.uint8).view(dtype), lambda: torch.empty(f.shape, dtype=dtype)]
    for make in makers:
        try:
            return make()
        except (RuntimeError, TypeError, NotImplementedError):
            continue
    return None


def numpy_dtypes() -> list[np.dtype]:
    """Every numpy scalar type, big-endian variants of the numeric ones, strings, datetimes and a
    structured dtype."""
    kinds = {np.dtype(t) for t in set(np.sctypeDict.values()) if np.dtype(t).kind not in "MmSUV"}
    kinds |= {np.dtype(t).newbyteorder(">") for t in ("f2", "f4", "f8", "i4", "u8", "c8")}
    kinds |= {np.dtype(t) for t in ("U4", "S4", "datetime64[ns]", "timedelta64[s]", [("a", "f4"), ("b", "i2")])}
    return sorted(kinds, key=str)


def as_numpy(f: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float32 ``f`` as ``dtype``: a cast where numpy has one, else the raw bytes (structured types)."""
    try:
        return f.astype(dtype)
    except (TypeError, ValueError):
        return np.zeros(f.shape, dtype=dtype)


def _odd_tensor(rng: random.Random, t: torch.Tensor):
    kind = rng.choice(["fp16", "bf16", "fp64", "int32", "int8", "bool", "complex", "quantized", "sparse", "meta", "empty",
                       "nan", "inf", "scalar", "transposed", "reshaped", "sliced", "string", "none", "bigendian", "list",
                       "any_dtype", "any_dtype", "any_numpy"])
    f = t.float()
    if kind == "any_dtype":
        dtype = rng.choice(TORCH_DTYPES)
        return f"dtype_{str(dtype).split('.')[-1]}", as_dtype(f, dtype)
    if kind == "any_numpy":
        dtype = rng.choice(numpy_dtypes())
        return f"numpy_{dtype.str}", as_numpy(f.numpy(), dtype)
    return kind, {
        "fp16": lambda: f.half(), "bf16": lambda: f.bfloat16(), "fp64": lambda: f.double(),
        "int32": lambda: f.to(torch.int32), "int8": lambda: f.to(torch.int8), "bool": lambda: f > 0,
        "complex": lambda: f.to(torch.complex64), "quantized": lambda: torch.quantize_per_tensor(f, 0.1, 0, torch.qint8),
        "sparse": lambda: f.reshape(f.shape[0], -1).to_sparse() if f.dim() else f.reshape(1).to_sparse(),
        "meta": lambda: torch.empty(t.shape, device="meta"), "empty": lambda: torch.empty(0),
        "nan": lambda: torch.full_like(f, float("nan")), "inf": lambda: torch.full_like(f, float("-inf")),
        "scalar": lambda: torch.tensor(1.0), "transposed": lambda: f.t() if f.dim() == 2 else f.reshape(-1).flip(0),
        "reshaped": lambda: f.reshape(-1), "sliced": lambda: f[..., :1] if f.dim() else f,
        "string": lambda: "weights", "none": lambda: None,
        "bigendian": lambda: f.numpy().astype(">f4"), "list": lambda: f.reshape(-1)[:4].tolist(),
    }[kind]()


def _structural(rng: random.Random, obj, sd_like: dict):
    """Damage to the object before it is saved: name of the damage, new object."""
    kind = rng.choice(["odd_tensor", "odd_tensor", "odd_tensor", "drop_key", "extra_key", "non_dict_top", "odd_keys",
                       "deep", "cycle", "swap_values", "empty_dict", "rename"])
    obj = copy.deepcopy(obj)
    slots = _tensors(obj)
    if kind == "odd_tensor" and slots:
        sub = "none_applied"
        for _ in range(rng.randint(1, 3)):
            node, key = rng.choice(slots)
            value = node[key]
            if not isinstance(value, torch.Tensor):  # a detectron2 array, or a tensor already made odd
                if not (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
                    continue
                value = torch.from_numpy(value.astype(np.float32))
            sub, node[key] = _odd_tensor(rng, value)
        return f"tensor_{sub}", obj
    if kind == "drop_key" and slots:
        node, key = rng.choice(slots)
        del node[key]
    elif kind == "extra_key" and slots:
        node, key = rng.choice(slots)
        node[str(key).replace("layer", "layer9", 1) + ".extra"] = torch.ones(3)
    elif kind == "non_dict_top":
        return kind, rng.choice([[sd_like], (sd_like,), torch.ones(3), 42, "weights", None, list(sd_like.values())])
    elif kind == "odd_keys" and slots:
        node, key = rng.choice(slots)
        node[rng.choice([7, (1, 2), 3.5, b"conv1.weight", None])] = node.pop(key)
    elif kind == "deep":
        for _ in range(rng.randint(10, 60)):
            obj = {"state_dict": obj}
    elif kind == "cycle" and isinstance(obj, dict):
        obj["self"] = obj
    elif kind == "swap_values" and len(slots) > 1:
        (n1, k1), (n2, k2) = rng.sample(slots, 2)
        n1[k1], n2[k2] = n2[k2], n1[k1]
    elif kind == "empty_dict":
        return kind, {}
    elif kind == "rename" and slots:
        node, key = rng.choice(slots)
        node["zz." + str(key)] = node.pop(key)
    return kind, obj


def _byte_damage(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    kind = rng.choice(["bit_flips", "truncate", "overwrite", "garbage", "text", "zip_no_pickle"])
    buf = bytearray(data)
    if kind == "bit_flips":
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        buf = buf[:rng.randrange(len(buf))]
    elif kind == "overwrite":
        i = rng.randrange(len(buf))
        buf[i:i + rng.randint(1, 512)] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 512)))
    elif kind == "garbage":
        buf = bytearray(rng.randbytes(rng.randint(1, 4096)))
    elif kind == "text":
        buf = bytearray(b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n")
    elif kind == "zip_no_pickle":
        import zipfile

        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            z.writestr("archive/version", "3\n")
        buf = bytearray(out.getvalue())
    return kind, bytes(buf)


def run(n: int, seed: int, folder: Path) -> tuple[Counter, Counter, list[str]]:
    """Load ``n`` damaged variants; return (outcomes, damage kinds, traceback descriptions)."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    bases = base_objects()
    clean = {}
    for name, (obj, suffix) in bases.items():
        path = folder / f"base_{name}{suffix}"
        if name == "evalsuite":
            save_backbone(path, build_backbone("resnet_tiny").state_dict(), arch="resnet_tiny", method="simsiam")
        else:
            _write(path, obj, suffix)
        clean[name] = (path.read_bytes(), suffix)
    sd_like = bases["plain"][0]
    outcomes, kinds, tracebacks = Counter(), Counter(), []
    for i in range(n):
        name = rng.choice(sorted(bases))
        data, suffix = clean[name]
        path = folder / f"v{i}_{name}{suffix}"
        if rng.random() < 0.5 or name == "evalsuite":
            kind, damaged = _byte_damage(rng, data)
            path.write_bytes(damaged)
        else:
            kind, obj = _structural(rng, bases[name][0], sd_like)
            try:
                _write(path, obj, suffix)
            except Exception:  # noqa: BLE001 - a damage torch.save/pickle cannot write is not a variant
                continue
        kinds[kind] += 1
        _outcome(path, kind, outcomes, tracebacks)
        path.unlink(missing_ok=True)
    outcomes["files tried"] = sum(kinds.values())
    return outcomes, kinds, tracebacks


def _outcome(path: Path, kind: str, outcomes: Counter, tracebacks: list[str]) -> None:
    """Load ``path`` as ``evalsuite eval`` does and count what happened."""
    try:
        load_backbone(path)
        outcomes["loads"] += 1
    except EvalsuiteError as exc:
        message = str(exc)
        if str(path) in message and "\n" not in message:
            outcomes["clean errors"] += 1
        else:
            outcomes["tracebacks"] += 1
            tracebacks.append(f"{path.name} ({kind}): unclear error: {message[:200]}")
    except Exception as exc:  # noqa: BLE001 - what the benchmark counts
        outcomes["tracebacks"] += 1
        tracebacks.append(f"{path.name} ({kind}): {type(exc).__name__}: {str(exc)[:200]}")


def _dtype_files(folder: Path):
    """(kind, path) of each dtype file, written as its project writes it."""
    torch.manual_seed(0)
    sd = build_backbone("resnet_tiny").state_dict()
    for dtype in TORCH_DTYPES:
        name = str(dtype).split(".")[-1]
        odd = as_dtype(sd["conv1.weight"], dtype)
        if odd is None:
            continue
        path = folder / f"torch_{name}.pth"
        try:
            torch.save({**sd, "conv1.weight": odd}, path)
        except Exception:  # noqa: BLE001 - torch cannot store it: no such file can exist
            continue
        yield f"torch {name}", path
    arrays = {k: v.numpy() for k, v in to_detectron2(sd).items()}
    plain = {k: v.numpy() for k, v in sd.items() if v.dim()}
    for dtype in numpy_dtypes():
        tag = dtype.str.replace("<", "le").replace(">", "be").replace("|", "")
        if dtype.names:
            tag = "structured"
        pkl = folder / f"np_{tag}.pkl"  # detectron2's layout (MoCo's convert-pretrain-to-detectron2.py)
        pkl.write_bytes(pickle.dumps({"model": {**arrays, "stem.conv1.weight": as_numpy(arrays["stem.conv1.weight"], dtype)},
                                      "__author__": "MOCO", "matching_heuristics": True}))
        yield f"numpy {dtype} in .pkl", pkl
        pth = folder / f"np_{tag}.pth"  # a state dict of numpy arrays, torch.save'd
        try:
            torch.save({**plain, "conv1.weight": as_numpy(plain["conv1.weight"], dtype)}, pth)
            yield f"numpy {dtype} in .pth", pth
        except Exception:  # noqa: BLE001 - torch.save refuses the array
            pass
        npz = folder / f"np_{tag}.npz"  # an archive of arrays (np.savez), not a pickle: refused cleanly
        with open(npz, "wb") as f:
            np.savez(f, **{**plain, "conv1.weight": as_numpy(plain["conv1.weight"], dtype)})
        yield f"numpy {dtype} in .npz", npz


def dtype_sweep(folder: Path) -> tuple[Counter, Counter, list[str]]:
    """Every storable torch dtype and every numpy dtype where a weight belongs (module docstring)."""
    outcomes, kinds, tracebacks = Counter(), Counter(), []
    for kind, path in _dtype_files(folder):
        kinds[kind] += 1
        _outcome(path, kind, outcomes, tracebacks)
        path.unlink(missing_ok=True)
    outcomes["files tried"] = sum(kinds.values())
    return outcomes, kinds, tracebacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")  # torch's deprecation notes on quantized and sparse tensors
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        outcomes, kinds, tracebacks = run(args.variants, args.seed, Path(tmp))
        print(f"files tried {outcomes['files tried']}, clean errors {outcomes['clean errors']}, loads {outcomes['loads']}, "
              f"tracebacks {outcomes['tracebacks']} ({time.perf_counter() - start:.1f} s)")
        print("damage kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        start = time.perf_counter()
        swept, dtypes, swept_tracebacks = dtype_sweep(Path(tmp))
    print(f"dtype sweep: files tried {swept['files tried']}, clean errors {swept['clean errors']}, loads {swept['loads']}, "
          f"tracebacks {swept['tracebacks']} ({time.perf_counter() - start:.1f} s)")
    for line in (tracebacks + swept_tracebacks)[:20]:
        print("  " + line)
    return 1 if outcomes["tracebacks"] or swept["tracebacks"] else 0


if __name__ == "__main__":
    sys.exit(main())
