"""``load_backbone(path)``: file -> backbone found by structure -> arch -> strictly loaded backbone.

The arch is the first that fits (``evalsuite.checkpoint.archmatch``); the weights are found by
the structural search of ``evalsuite.checkpoint.structural`` (every container, every wrapper
prefix), never by a layout's name; format adapters only rename (detectron2,
lightly's ``Sequential``) or add metadata (method, epochs). Loading is strict: every backbone key
must be present with its shape and a usable dtype (the guard of SimSiam's ``main_lincls.py``,
made a hard failure), and what was left out of the checkpoint is named. Weights holding NaN or
inf are refused unless ``allow_nonfinite``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from evalsuite.archs import build_backbone
from evalsuite.checkpoint.archmatch import arch_order, arch_tensors, infer_arch, search, signature
from evalsuite.checkpoint.hub_files import sha256_of
from evalsuite.checkpoint.io import NUMPY_DTYPE, read_checkpoint
from evalsuite.checkpoint.structural import OPTIONAL_SUFFIX, Candidate, KeyReport, compare, tensor_dicts
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import ARCHS, FORMATS, load_builtins, names

RANDOM = "random"
STRUCTURAL = "structural"

__all__ = ["KeyReport", "LoadedCheckpoint", "compare_keys", "infer_arch", "inspect_checkpoint", "load_backbone"]


@dataclass
class LoadedCheckpoint:
    """What ``evalsuite inspect`` prints and what every result row records."""

    path: str
    sha256: str
    format: str
    arch: str
    meta: dict
    report: KeyReport
    state_dict: dict[str, torch.Tensor] = field(repr=False, default_factory=dict)
    how: str = ""  # the path taken, e.g. "state_dict -> strip 'module.' -> 120/120 backbone tensors"
    nonfinite: list[str] = field(default_factory=list)  # backbone tensors holding NaN or inf

    def summary(self) -> dict:
        return {
            "path": self.path, "sha256": self.sha256, "format": self.format, "arch": self.arch, "loaded": self.how,
            "matched": self.report.matched, "missing": len(self.report.missing),
            "unexpected": len(self.report.unexpected), "shape_mismatched": len(self.report.mismatched),
            "bad_dtype": len(self.report.bad_dtype), "nonfinite": len(self.nonfinite), "meta": self.meta,
        }


def _uninitialised(arch: str) -> nn.Module:
    """The arch with allocated but uninitialised weights (every one is then loaded), skipping a
    random init that costs seconds for large nets; built normally when the arch cannot be built on
    the meta device, shares weights between modules, or has buffers outside its state dict."""
    try:
        with torch.device("meta"):
            model = build_backbone(arch)
    except EvalsuiteError:
        raise
    except Exception:
        return build_backbone(arch)
    tied = len(list(model.named_parameters(remove_duplicate=False))) != len(list(model.named_parameters()))
    if tied or any(name not in signature(arch) for name, _ in model.named_buffers()):
        return build_backbone(arch)  # to_empty would untie shared weights / leave buffers empty
    return model.to_empty(device="cpu")


def compare_keys(state_dict: dict[str, torch.Tensor], model: nn.Module) -> KeyReport:
    """Strict comparison of a state dict already in the arch's naming: any extra key is unexpected."""
    report, dropped = compare(state_dict, {k: tuple(v.shape) for k, v in model.state_dict().items()})
    report.unexpected += dropped
    return report


def _generic_meta(obj: dict) -> dict:
    """``arch`` and ``epoch`` as the PyTorch ImageNet example, MoCo, SimSiam and timm store them."""
    meta = {}
    if isinstance(obj.get("arch"), str):
        meta["arch_hint"] = obj["arch"]
    if isinstance(obj.get("epoch"), int) and not isinstance(obj.get("epoch"), bool):
        meta["epochs"] = obj["epoch"]
    return meta


def _sources(obj: dict) -> tuple[str, list[tuple[str, dict]], dict]:
    """Format name, tensor dicts to search (adapters' renamings first) and metadata.

    Every adapter that recognises the layout contributes (a Lightning ``.ckpt`` of a lightly
    model is both); the format is named after the renaming one, else the first, else "structural".
    """
    load_builtins()
    meta, renamed, named = _generic_meta(obj), [], []
    for name, adapter in FORMATS.module_dict.items():
        found = adapter(obj)
        if found is None:
            continue
        tensors, fmt_meta = found
        meta.update(fmt_meta)
        if tensors:
            renamed.append((f"<{name} renaming>", tensors))
        named.insert(0 if tensors else len(named), name)
    return (named[0] if named else STRUCTURAL), renamed + tensor_dicts(obj), meta


#: The dtypes a floating-point weight may come in; each is cast to the arch's dtype on load
#: (training precisions). float8 / float4 are lossy storage formats, refused like quantized tensors.
WEIGHT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
#: The dtypes an integer or boolean buffer of the arch may come in.
COUNT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.uint16, torch.uint32,
                torch.uint64, torch.bool)


def unusable_dtype(value: torch.Tensor, floating: bool) -> str | None:
    """Why ``value`` cannot be loaded where the arch has a floating (or integer) tensor, or None."""
    if value.is_meta:  # a numpy array torch cannot hold (``io.as_tensor``), or a tensor saved without data
        return getattr(value, NUMPY_DTYPE, None) or "meta tensor without data"
    if value.layout != torch.strided:
        return f"{value.dtype}, {value.layout}"
    return None if value.dtype in (WEIGHT_DTYPES if floating else COUNT_DTYPES) else str(value.dtype)


def _check_tensors(chosen: Candidate, arch: str) -> list[str]:
    """Flag dtypes the arch cannot take (int, complex, float8 or quantized where it has floats,
    sparse, meta tensors) into the report; return the backbone keys holding NaN or inf."""
    floating = arch_tensors(arch)[1]
    nonfinite = []
    for key, value in chosen.tensors.items():
        if key.endswith(OPTIONAL_SUFFIX) or key not in signature(arch):
            continue
        why = unusable_dtype(value, key in floating)
        if why:
            chosen.report.bad_dtype.append((key, why))
        elif value.is_floating_point() and not bool(torch.isfinite(value).all()):
            nonfinite.append(key)
    return nonfinite


def _no_candidate(path: str, arch: str | None, sources, obj: dict) -> EvalsuiteError:
    top = ", ".join(str(k) for k in list(obj)[:8]) or "(empty)"
    if not sources:
        return EvalsuiteError(f"checkpoint {path!r} holds no tensors at all (top-level keys: {top}); "
                              "it is not a weights file")
    found = ", ".join(f"{w or 'top level'} ({len(t)} tensors, e.g. {next(iter(t))!r})" for w, t in sources[:3])
    what = f"arch {arch!r}" if arch else f"any registered arch ({', '.join(names(ARCHS))})"
    return EvalsuiteError(f"checkpoint {path!r} has no tensor named like a key of {what}; tensor dicts found: {found}; "
                          "pass --arch with the network it was saved from (registered name or pkg.module:callable)")


def inspect_checkpoint(path: str | Path, arch: str | None = None, trust: bool = False, key: str | None = None,
                       sha256: str | None = None) -> LoadedCheckpoint:
    """Read and find the backbone without failing on a mismatch (``evalsuite inspect``): when nothing
    fits, the report is that of the closest candidate, so the user sees what it lacked. ``sha256``:
    the file's hash where the caller has just computed it (the zoo's check), so it is not read twice."""
    path = str(path)
    obj = read_checkpoint(path, trust)
    fmt_name, sources, meta = _sources(obj)
    archs = arch_order(arch or meta.get("arch"), meta.get("arch_hint"), sources)
    found_arch, chosen, used, closest, closest_arch = search(sources, archs, key, path)
    if chosen is None and closest is None:
        raise _no_candidate(path, arch, sources, obj)
    pick = chosen or closest
    found_arch = found_arch if chosen else closest_arch
    nonfinite = _check_tensors(pick, found_arch) if chosen else []
    how = pick.path() + "".join(f"; {why}" for why in used)
    if not arch and meta.get("arch_from") and found_arch in (meta.get("arch"), meta.get("arch_hint")):
        how += f"; arch from {meta['arch_from']}"  # e.g. a Hugging Face folder's config.json
    if chosen is None:
        how = f"closest candidate: {how}"
    meta = {**meta, "loaded_from": pick.location or "top level"}
    return LoadedCheckpoint(path, sha256 or sha256_of(path), fmt_name, found_arch, meta, pick.report, pick.tensors, how, nonfinite)


def _refuse(info: LoadedCheckpoint, arch_given: bool, allow_nonfinite: bool) -> None:
    if not info.report.fits and not arch_given:
        raise EvalsuiteError(
            f"checkpoint {info.path!r} fits no registered arch exactly; {info.how}: {info.report.problem()}; "
            f"pass --arch with one of {', '.join(names(ARCHS))} or pkg.module:callable"
        )
    if not info.report.ok:
        dtypes = [str(d).removeprefix("torch.") for d in WEIGHT_DTYPES]
        valid = f"; weights must be {', '.join(dtypes[:-1])} or {dtypes[-1]}" if info.report.bad_dtype else ""
        raise EvalsuiteError(f"checkpoint {info.path!r} does not fit arch {info.arch!r}: {info.report.problem()} "
                             f"({info.how}){valid}")
    if info.nonfinite and not allow_nonfinite:
        raise EvalsuiteError(
            f"checkpoint {info.path!r} has NaN or inf in {len(info.nonfinite)} backbone tensor(s), such as "
            f"{', '.join(info.nonfinite[:3])}; the run that wrote it diverged (pass --allow-nonfinite to evaluate it anyway)"
        )


def load_backbone(path: str | Path, arch: str | None = None, trust: bool = False, seed: int = 0,
                  key: str | None = None, allow_nonfinite: bool = False,
                  sha256: str | None = None) -> tuple[nn.Module, LoadedCheckpoint]:
    """Return the backbone with the checkpoint's weights, or random init for ``path='random'``
    (``sha256``: as for ``inspect_checkpoint``)."""
    if str(path) == RANDOM:
        if arch is None:
            raise EvalsuiteError("checkpoint 'random' needs --arch to say which network to initialise")
        torch.manual_seed(seed)
        model = build_backbone(arch)
        info = LoadedCheckpoint(RANDOM, f"random-seed{seed}", RANDOM, arch, {"method": "random init"}, KeyReport())
        return model, info
    info = inspect_checkpoint(path, arch, trust, key, sha256)
    _refuse(info, arch is not None, allow_nonfinite)
    if info.nonfinite:
        info.meta["nonfinite_tensors"] = len(info.nonfinite)  # --allow-nonfinite applied: the row says so
    model = _uninitialised(info.arch)
    try:  # strictness checked above, bar num_batches_tracked; fp16/bf16/fp64 are cast to the arch's dtype
        result = model.load_state_dict({k: v for k, v in info.state_dict.items() if k in signature(info.arch)}, strict=False)
        state = model.state_dict()
        for key in result.missing_keys:  # only num_batches_tracked can be absent (checked above)
            state[key].zero_()
    except (RuntimeError, TypeError, ValueError) as exc:
        raise EvalsuiteError(f"checkpoint {info.path!r} cannot be copied into arch {info.arch!r} "
                             f"({type(exc).__name__}: {str(exc).splitlines()[0][:160]})") from exc
    info.state_dict = {}
    return model, info
