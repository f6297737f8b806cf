"""Argument helpers shared by several sub-commands used by the modules in evalsuite.commands."""

from __future__ import annotations



def parse_cfg_options(items: list[str] | None) -> dict:
    """``['knn.temperature=0.1', 'datasets=[cifar10]']`` -> dict, values parsed like mmengine's DictAction."""
    from mmengine.config import DictAction

    from evalsuite.errors import EvalsuiteError

    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise EvalsuiteError(f"--cfg-options item {item!r} is not key=value (e.g. knn.temperature=0.1)")
        out[key] = DictAction._parse_iterable(value)
    return out


def csv_list(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def int_list(text: str) -> list[int]:
    from evalsuite.errors import EvalsuiteError

    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise EvalsuiteError(f"--seeds {text!r} is not a comma-separated list of integers (e.g. 0,1,2)") from None
