"""The one exception type the command line turns into a one-sentence error."""


class EvalsuiteError(Exception):
    """A user-facing error: bad input, missing data, refused checkpoint.

    The message is one sentence that names the bad value and what would be valid;
    the CLI prints it without a traceback (unless ``--debug``) and exits non-zero.
    """

    def __init__(self, message: str = "") -> None:
        # torch's DataLoader re-raises a worker's exception as ``type(exc)(text)`` where text is
        # 'Caught EvalsuiteError in DataLoader worker process 0. Original Traceback ...: <sentence>';
        # keep the sentence, so an error found while loading stays one line.
        if "Original Traceback" in message:
            message = message.rstrip().splitlines()[-1].split("EvalsuiteError: ", 1)[-1]
        super().__init__(message)


class FeaturesRefused(EvalsuiteError):
    """The backbone's output cannot be used as features (not (N, D), NaN or inf). Raised after
    decoding began, so the evaluation removes the features it cached for that dataset in this run
    (earlier splits included) and its sentence says which decoded images stay, and why."""


def one_of(kind: str, value: object, valid) -> EvalsuiteError:
    """Build the standard 'unknown X' error listing the valid options."""
    options = ", ".join(sorted(str(v) for v in valid))
    return EvalsuiteError(f"unknown {kind} {value!r}; valid {kind}s are: {options}")


def warn(message: str) -> None:
    """A user-facing warning: one line on stderr, as errors are, for what goes on with less than
    was asked (a results file left out of a table, a ``--resume`` with nothing to resume)."""
    import sys

    print(f"evalsuite: warning: {message}", file=sys.stderr, flush=True)
