"""What "fails cleanly" means for the fuzz tests (test_fuzz_*.py).

The project's own errors are the ones a user may see as one message line
(the CLI prints them after ``napari-sam2: error:``, the plugin in a
notification):

* exactly ``ValueError`` or ``FileNotFoundError``, or a class defined in
  ``napari_sam2`` deriving from them (e.g. ``MissingFileError``,
  ``FrameIndexError``);
* with a non-empty, one-line message free of Python/numpy repr noise
  (``array(``, ``np.float64(``, ``<... object at 0x``).

Foreign subclasses of ValueError (``UnicodeDecodeError``, ``JSONDecodeError``,
numpy's own errors) do *not* count: the project must translate them. Every
other exception (TypeError, IndexError, KeyError, AttributeError,
ZeroDivisionError, csv.Error, RecursionError) and every warning (numpy's
RuntimeWarning included, turned into errors here) is a bug.
"""

from __future__ import annotations

import contextlib
import re
import warnings

import numpy as np

OWN_BASES = (ValueError, FileNotFoundError)
NOISE = re.compile(
    r"array\(|dtype\(|tensor\(|\bnp\.(float|u?int|bool|str|complex)\w*\("
    r"|Traceback|object at 0x|<class "
)


def is_own_error(err: BaseException) -> bool:
    if type(err) in OWN_BASES:
        return True
    return isinstance(err, OWN_BASES) and type(err).__module__.startswith("napari_sam2")


def check_error(err: BaseException) -> None:
    """Re-raise ``err`` unless it is one of the project's own one-line errors."""
    if not is_own_error(err):
        raise AssertionError(f"not a project error: {type(err).__name__}: {err}") from err
    msg = str(err)
    if not msg.strip() or "\n" in msg or NOISE.search(msg) or len(msg) > 400:
        raise AssertionError(f"error message is not one clean line: {msg!r}") from err


@contextlib.contextmanager
def strict():
    """Warnings (numpy's overflow / invalid / divide ones too) become errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="warn", invalid="warn", divide="warn", under="ignore"):
            yield


def attempt(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` under :func:`strict`; None if it failed cleanly."""
    try:
        with strict():
            return fn(*args, **kwargs)
    except Exception as err:  # sorted by check_error
        check_error(err)
        return None
