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


def _shown(option: str, value) -> str:
    """How the user wrote it: ``--seeds '0,x'`` on the command line, ``seeds='0,x'`` in Python."""
    return f"{option} {value!r}" if option.startswith("--") else f"{option}={value!r}"


def name_list(value, option: str, noun: str, example: str) -> list[str] | None:
    """``--datasets``/``--tasks`` (and the Python API's ``datasets=``/``tasks=``): a comma-separated
    string or a list of names; None means the suite's own. Naming nothing is refused, never read as
    "the default" (``--datasets ""`` from an unset shell variable would run another dataset)."""
    if value is None:
        return None
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise EvalsuiteError(f"{_shown(option, value)} is not a comma-separated list of {noun} names (e.g. {example})")
    names = [t.strip() for t in items if t.strip()]
    if not names:
        raise EvalsuiteError(f"{_shown(option, value)} names no {noun}; give one or more (e.g. {example}) "
                             f"or leave {option} out for the suite's own")
    return names


def csv_list(text: str | None, option: str = "--datasets") -> list[str] | None:
    noun, example = ("task", "knn,linear") if "task" in option else ("dataset", "digits or cifar10,imagefolder:PATH")
    return name_list(text, option, noun, example)


def seed_list(value, option: str = "--seeds") -> list[int] | None:
    """``--seeds 0,1,2`` (and the API's ``seeds=``: that string, one int, or a list of ints); None
    means the suite's. Negative seeds are refused where the suite's own are checked too (runner)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    bad = EvalsuiteError(f"{_shown(option, value)} is not a comma-separated list of integers (e.g. 0,1,2)")
    if isinstance(value, str):
        try:
            seeds = [int(t) for t in value.split(",") if t.strip()]
        except ValueError:
            raise bad from None
    elif isinstance(value, (list, tuple, range)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        seeds = list(value)
    else:
        raise bad
    if not seeds:
        raise EvalsuiteError(f"{_shown(option, value)} names no seed; give one or more integers (e.g. 0,1,2) "
                             f"or leave {option} out for the suite's own")
    return seeds


def cfg_options(value, option: str = "--cfg-options") -> dict:
    """Suite overrides in any form a user writes them: a dict ``{'knn.temperature': 0.1}``, a list
    of ``key=value`` strings (as the command line gives them) or one string of them separated by
    spaces (``'knn.temperature=0.1 knn.ks=[10, 20]'``: spaces inside brackets or quotes stay)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        bad = next((k for k in value if not isinstance(k, str) or not k), None)
        if bad is not None:
            raise EvalsuiteError(f"{option} key {bad!r} is not a setting name (e.g. 'knn.temperature')")
        return dict(value)
    if isinstance(value, str):
        return parse_cfg_options(_words(value))
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return parse_cfg_options(list(value))
    raise EvalsuiteError(f"{_shown(option, value)} is not a dict, a list of key=value strings or one string of them "
                         "(e.g. 'knn.temperature=0.1 knn.ks=[10,20]')")


def _words(text: str) -> list[str]:
    """Split at whitespace outside brackets and quotes."""
    words, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text + " "):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch.isspace() and depth <= 0:
            if text[start:i].strip():
                words.append(text[start:i].strip())
            start = i + 1
    return words


def add_request_arguments(p) -> None:
    """The evaluation settings ``eval`` and ``sweep`` share (``request_fields`` reads them back)."""
    p.add_argument("--arch", help="registered arch (evalsuite list archs), timm:NAME or pkg.module:callable; "
                                  "inferred when omitted")
    p.add_argument("--suite", help="suite recipe (default tasks/default.py)")
    p.add_argument("--tasks", help="comma-separated tasks of the suite to run, e.g. knn,linear")
    p.add_argument("--datasets", help="comma-separated datasets, e.g. cifar10,digits or imagefolder:PATH")
    p.add_argument("--data-root", default="data", help="where datasets live (default ./data)")
    p.add_argument("--download", action="store_true", help="download missing datasets into --data-root, and a zoo:NAME "
                   "checkpoint into the cache root (resumable, hash-checked)")
    p.add_argument("--seeds", help="several seeds, e.g. 0,1,2: one result row per seed (default: the suite's, else 0)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--trust-checkpoint", action="store_true", help="allow arbitrary unpickling of the checkpoint")
    p.add_argument("--key", help="dotted location of the backbone in the file when the convention is not wanted, "
                                 "e.g. student (DINO) or state_dict.module.encoder_k; see evalsuite inspect")
    p.add_argument("--allow-nonfinite", action="store_true", help="evaluate weights that hold NaN or inf (refused by default)")
    p.add_argument("--cache-dir", help="folder of every cache: shards/ (features), decoded/ (default $EVALSUITE_CACHE, else ~/.cache/evalsuite)")
    p.add_argument("--resolution", help="evaluation resolution: auto (default: the backbone's training size when "
                   "known, else 224), native, or N px; the same as --cfg-options features.resize=...")
    p.add_argument("--cfg-options", nargs="+", metavar="KEY=VALUE", help="override suite settings, e.g. knn.temperature=0.1")
    p.add_argument("--skip-bad-images", action="store_true",
                   help="imagefolder: leave out unreadable image files and record how many in the row")


def request_fields(args) -> dict:
    """``EvalRequest`` fields from the arguments of ``add_request_arguments`` (and eval's ``--seed``)."""
    seed = getattr(args, "seed", None)
    seeds = seed_list(args.seeds) if args.seeds is not None else ([seed] if seed is not None else None)  # None: the suite's
    resolution = {"features.resize": args.resolution} if args.resolution else {}
    return dict(arch=args.arch, suite=args.suite, tasks=csv_list(args.tasks, "--tasks"),
                datasets=csv_list(args.datasets, "--datasets"),
                data_root=args.data_root, download=args.download, seeds=seeds, device=args.device,
                trust_checkpoint=args.trust_checkpoint, key=args.key, allow_nonfinite=args.allow_nonfinite,
                cache_dir=args.cache_dir, cfg_options={**parse_cfg_options(args.cfg_options), **resolution},
                skip_bad_images=args.skip_bad_images)
