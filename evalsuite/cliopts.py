"""Argument helpers shared by several sub-commands used by the modules in evalsuite.commands."""

from __future__ import annotations

from evalsuite.errors import EvalsuiteError

_BRACKETS = {"[": ("]", list), "(": (")", tuple)}
_WORDS = {"true": True, "false": False, "none": None}
RESULTS_HELP = "results folder (default $EVALSUITE_RESULTS, else ~/.local/share/evalsuite/results)"


def add_comparison_arguments(p, published_help: str) -> None:
    """``--results``, ``--baseline`` and ``--published``: what the leaderboard and the report both read."""
    p.add_argument("--results", default=None, help=RESULTS_HELP)
    p.add_argument("--baseline", help="checkpoint label to compare against (Δ), e.g. supervised-resnet50-imagenet1k-v1")
    p.add_argument("--published", action="store_true", help=published_help)


def results_dir(value: str | None) -> str:
    """``--results``, else the user's default store (``evalsuite.results.default_results_dir``)."""
    from evalsuite.results import default_results_dir

    return value or str(default_results_dir())


def parse_cfg_options(items: list[str] | None) -> dict:
    """``['knn.temperature=0.1', 'datasets=[cifar10]']`` -> dict; values as ``parse_value`` reads them."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise EvalsuiteError(f"--cfg-options item {item!r} is not key=value (e.g. knn.temperature=0.1)")
        out[key] = parse_value(value, item)
    return out


def parse_value(text: str, item: str = ""):
    """A --cfg-options value, read as mmengine's ``DictAction`` reads it (so recipes written for
    mmengine tools behave the same): ``[a,b]`` a list, ``(a,b)`` a tuple, bare ``a,b`` a list,
    nested brackets allowed; each item an int, a float, true/false/none (any case) or a string."""
    text = text.strip().strip("'\"")
    if text[:1] in _BRACKETS:
        close, kind = _BRACKETS[text[0]]
        if not text.endswith(close):
            raise EvalsuiteError(f"--cfg-options item {item or text!r} opens {text[0]!r} "
                                 f"but does not end with {close!r}")
        return kind(parse_value(part, item) for part in _split_top(text[1:-1], item) if part.strip())
    if "," in text:
        return [parse_value(part, item) for part in _split_top(text, item) if part.strip()]
    return _scalar(text)


def _split_top(text: str, item: str) -> list[str]:
    """Split at the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "[(":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if depth < 0:
            raise EvalsuiteError(f"--cfg-options item {item or text!r} closes a bracket it never opened")
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise EvalsuiteError(f"--cfg-options item {item or text!r} has an unclosed bracket")
    return [*parts, text[start:]]


def _scalar(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return _WORDS.get(text.lower(), text)


def csv_list(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def int_list(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise EvalsuiteError(f"--seeds {text!r} is not a comma-separated list of integers (e.g. 0,1,2)") from None
