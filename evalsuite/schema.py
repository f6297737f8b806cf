"""Every setting checked before any work: names against the dataclasses that read them, values
against their type hints and the rules each field declares (``evalsuite.rules``).

A suite's schema is its top level (``SUITE_KEYS``), one frozen task dataclass per task entry
(``evalsuite.registry.TASKS``; detection is one of them) and ``features``
(``evalsuite.features.FeatureSettings``). A pre-training recipe's schema is the recipe itself plus
the constructors that consume its dicts (the registered method, the optimizer, ``ViewSpec``).
A field added to any of these dataclasses is validated with no edit here. Each failure is one
``EvalsuiteError`` sentence naming the key, the value and what is valid; an unknown key names the
nearest valid ones (difflib).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import types
import typing
from pathlib import Path

from evalsuite.errors import EvalsuiteError
from evalsuite.rules import AT_LEAST_0, Rule, broken, rules_of

#: Value rules of the suite's own top-level keys (a field's rules live on the field: ``evalsuite.rules``).
SUITE_RULES = {"seeds": (AT_LEAST_0,)}


def nearest(key: str, valid) -> str:
    """' (did you mean a or b?)' for the closest valid names, matched on the last dotted part too."""
    valid = sorted(set(valid))
    tail = {v.rsplit(".", 1)[-1]: v for v in valid}
    close = difflib.get_close_matches(key, valid, n=3, cutoff=0.6)
    close += [tail[t] for t in difflib.get_close_matches(key.rsplit(".", 1)[-1], list(tail), n=3, cutoff=0.6)]
    close = list(dict.fromkeys(close))[:3]
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def _kind(hint) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "a dict"}
    if hint in names:
        return names[hint]
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_kind(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if origin in (tuple, list) or hint in (tuple, list):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        if origin is tuple and len(args) > 1 and Ellipsis not in typing.get_args(hint):
            return f"a list of {len(args)} {_kind(args[0]).removeprefix('an ').removeprefix('a ')}s"
        return f"a list of {_kind(args[0]).removeprefix('an ').removeprefix('a ')}s" if args else "a list"
    return getattr(hint, "__name__", str(hint))


def _fits(value, hint, default) -> bool:
    if hint is typing.Any:
        return True
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a, default) for a in typing.get_args(hint))
    if origin in (tuple, list) or hint in (tuple, list):
        if not isinstance(value, (tuple, list)):
            return False
        args = typing.get_args(hint)
        if not args and default:  # a bare ``tuple``: elements typed like the default's
            args = (type(default[0]), ...)
        if (origin is list and args) or (len(args) == 2 and args[1] is Ellipsis):  # list[X], tuple[X, ...]
            return all(_fits(v, args[0], None) for v in value)
        return not args or (len(args) == len(value) and all(_fits(v, a, None) for v, a in zip(value, args)))
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True  # a type this schema does not know: the consumer checks it


def check_value(key: str, value, hint, default=None, rules: tuple[Rule, ...] = ()) -> None:
    """One setting against its type hint and its ``rules``; ``key`` is its dotted name."""
    if not _fits(value, hint, default):
        raise EvalsuiteError(f"setting {key}={value!r} is not {_kind(hint)}; give {_kind(hint)}"
                             + (f", e.g. {key}={_example(default)}" if default is not None else ""))
    name = key.rsplit(".", 1)[-1]
    rule = broken(value, rules)
    if rule and rule.whole:
        raise EvalsuiteError(f"setting {key}={value!r} is not valid; the values of {name} must not decrease")
    if rule:
        raise EvalsuiteError(f"setting {key}={value!r} is not valid; {name} must be {rule.text}")


def _example(default) -> str:
    text = str(list(default)) if isinstance(default, tuple) else repr(default)
    return text if len(text) <= 40 else text[:37] + "..."


def check_fields(cls, entry: dict, prefix: str, extra: tuple[str, ...] = ("type",), owner: str = "") -> None:
    """The keys of ``entry`` against the fields of dataclass ``cls``, then each value; an unknown
    key is '<owner> has no setting <key>' (default owner: ``prefix``)."""
    if not isinstance(entry, dict):
        raise EvalsuiteError(f"setting {prefix}={entry!r} is not a dict of {prefix} settings; "
                             f"set one with {prefix}.KEY=VALUE (valid keys: "
                             f"{', '.join(f.name for f in dataclasses.fields(cls))})")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key, value in entry.items():
        if key in extra:
            continue
        if key not in fields:
            near = nearest(f"{prefix}.{key}", [f"{prefix}.{n}" for n in fields])
            raise EvalsuiteError(f"{owner or prefix} has no setting {key!r}{near}; "
                                 f"valid settings are: {', '.join(sorted(fields))}")
        f = fields[key]
        default = f.default if f.default is not dataclasses.MISSING else None
        check_value(f"{prefix}.{key}", value, hints[key], default, rules_of(f))


#: The suite's own top-level keys (besides one entry per task) and their types.
SUITE_KEYS = {"tasks": list[str], "datasets": list[str], "seeds": list[int], "features": dict}


def _task_class(name: str, entry):
    from evalsuite.registry import TASKS, get

    kind = entry.get("type", name) if isinstance(entry, dict) else name
    return get(TASKS, kind)


def check_suite(cfg: dict, path: str = "") -> None:
    """The whole resolved suite (file ``path`` plus --cfg-options), before any work: a key nothing
    reads (a typo would leave a setting silently unused), a wrong type, an impossible value."""
    from evalsuite.features import FeatureSettings
    from evalsuite.preprocess import Preprocess
    from evalsuite.registry import TASKS, names

    for key, hint in SUITE_KEYS.items():  # first: the task list below depends on ``tasks``
        if key in cfg and key != "features":
            check_value(key, cfg[key], hint, rules=SUITE_RULES.get(key, ()))
    task_keys = set(cfg.get("tasks", ()))
    task_keys |= {k for k, v in cfg.items() if isinstance(v, dict) and v.get("type") in names(TASKS)}
    task_keys |= set(cfg) & set(names(TASKS))
    for key, value in cfg.items():
        if key.startswith("_") or (key in SUITE_KEYS and key != "features"):
            continue  # a recipe's local helper (``_steps = ...``), or checked above
        if key == "features":
            check_fields(FeatureSettings, value, "features", extra=(), owner=f"suite {path!r}: features")
            Preprocess.from_cfg(value)  # normalisation and resize: the values only it knows
            FeatureSettings(**value)
        elif key in task_keys:
            check_fields(_task_class(key, value), value, key, owner=f"task {key!r}")
        else:
            valid = list(SUITE_KEYS) + [f"{t}.{f.name}" for t in task_keys if t in cfg
                                        for f in dataclasses.fields(_task_class(t, cfg[t]))]
            raise EvalsuiteError(f"suite {path!r} sets {key!r}, which nothing reads{nearest(key, valid)}; the top "
                                 f"level of a suite holds {', '.join(SUITE_KEYS)} and one dict per task")


def check_parses(path: Path, what: str) -> None:
    """A Python recipe that does not parse: one sentence with the file and line."""
    try:
        ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as exc:
        raise EvalsuiteError(f"{what} {str(path)!r} does not parse: line {exc.lineno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalsuiteError(f"{what} {str(path)!r} cannot be read ({exc})") from None


# ---- pre-training recipes --------------------------------------------------------------------

#: Keys the trainer reads with a default, so a recipe may leave them out.
RECIPE_OPTIONAL = {"": ("log_level", "warmup_epochs", "sync_bn", "compile", "amp", "seed", "log_interval",
                        "checkpoint_interval", "monitor", "fast_step", "latest_every_s"),
                   "data": ("limit", "num_workers", "store_size", "on_device", "download", "root", "in_memory",
                            "knn_split"),
                   "monitor": ("knn_interval", "knn_k", "knn_t")}


def _constructor_keys(section: str, entry: dict) -> set[str]:
    """Keyword arguments of what consumes a recipe dict: the method class, the optimizer class."""
    from mmengine.registry import OPTIMIZERS

    from evalsuite.registry import METHODS, get

    if section == "method" and "type" in entry:
        return set(inspect.signature(get(METHODS, entry["type"])).parameters) - {"views"}
    if section == "optimizer" and "type" in entry:
        cls = OPTIMIZERS.get(entry["type"])
        return (set(inspect.signature(cls).parameters) - {"params"}) | {"base_lr"} if cls else set()
    return set()


def check_recipe_options(recipe: dict, options: dict) -> None:
    """``--cfg-options`` of ``evalsuite pretrain`` against the recipe they override: each dotted
    key must name a recipe key (or one its consumer reads), each value the recipe value's type."""
    from evalsuite.pretrain.augment import ViewSpec

    for key, value in options.items():
        parts = key.split(".")
        node, section = recipe, ""
        for depth, part in enumerate(parts):
            valid = set(node) | set(RECIPE_OPTIONAL.get(section, ())) | _constructor_keys(section, node)
            valid -= {"recipe_name", "recipe_arch"}  # load_recipe's own records, not settings
            if part not in valid:
                prefix = f"{section}." if section else ""
                hint = nearest(prefix + part, [prefix + v for v in valid])
                raise EvalsuiteError(f"unknown recipe key {key!r}{hint}; "
                                     f"valid {'keys of ' + section if section else 'top-level keys'} are: "
                                     f"{', '.join(sorted(valid))}")
            last = depth == len(parts) - 1
            if not last and not isinstance(node.get(part), dict):
                break  # overriding inside a value that is not a dict: mmengine's merge reports it
            if last:
                _check_recipe_value(key, value, node.get(part), _recipe_rules(key, section, node))
            node, section = node.get(part, {}), part
        if parts[0] == "views" and isinstance(value, list):
            for i, view in enumerate(value):
                check_fields(ViewSpec, view, f"views[{i}]", extra=())


def _recipe_rules(key: str, section: str, node: dict) -> tuple[Rule, ...]:
    """A recipe key's rules: a method's argument's on its class (``ARG_RULES``), the recipe's own
    keys' beside the trainer that reads them (``RECIPE_RULES``)."""
    from evalsuite.pretrain.trainer import RECIPE_RULES
    from evalsuite.registry import METHODS, get

    if section == "method" and "type" in node:
        return getattr(get(METHODS, node["type"]), "ARG_RULES", {}).get(key.rsplit(".", 1)[-1], ())
    return RECIPE_RULES.get(key, ())


def _check_recipe_value(key: str, value, current, rules: tuple[Rule, ...] = ()) -> None:
    """A new value has the type of the one it replaces (an int may replace a float), and its rules."""
    if key == "compile":  # False, True, or a torch.compile mode of the fast step
        from evalsuite.pretrain.fast_step import COMPILE_MODES

        if not isinstance(value, bool) and value not in COMPILE_MODES:
            raise EvalsuiteError(f"setting compile={value!r} is not valid; give true, false or one of: "
                                 f"{', '.join(COMPILE_MODES)}")
        return
    if current is None:
        return
    hint = type(current)
    if isinstance(current, (list, tuple)):
        hint = list[type(current[0])] if current and not isinstance(current[0], (int, float)) else list
    check_value(key, value, float if hint is float else hint, current, rules)
