"""The package's progress bars: tqdm, throttled when written to a log rather than a terminal.

A bar on a terminal redraws itself in place; written to a file or a pipe (a redirected job log)
every redraw is a new line, so there a bar is refreshed at most every :data:`LOG_INTERVAL_S`.
"""
import sys

from tqdm.auto import tqdm
from tqdm.notebook import tqdm_notebook

__all__ = ["LOG_INTERVAL_S", "progress_bar"]

#: seconds between two refreshes of a bar that is not on a terminal
LOG_INTERVAL_S = 30.0


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_bar(iterable=None, **kwargs):
    """A tqdm bar (same arguments as ``tqdm``), throttled when its stream is not a terminal.

    Parameters
    ----------
    iterable : iterable, optional
        Iterated over with progress, as in ``tqdm(iterable)``.
    **kwargs
        Passed to ``tqdm``. Unless given, ``mininterval`` and ``maxinterval`` are set to
        :data:`LOG_INTERVAL_S` seconds when the bar's ``file`` (default ``sys.stderr``) is not
        a terminal, so that a log gets one line every ~30 s instead of one per redraw.
        Notebook bars (``tqdm.auto`` in Jupyter) are left as they are.

    Returns
    -------
    tqdm.tqdm
    """
    stream = kwargs.get("file") or sys.stderr
    if not issubclass(tqdm, tqdm_notebook) and not _is_terminal(stream):
        # maxinterval too: tqdm's monitor thread would otherwise force a refresh every 10 s
        kwargs.setdefault("mininterval", LOG_INTERVAL_S)
        kwargs.setdefault("maxinterval", LOG_INTERVAL_S)
    return tqdm(iterable, **kwargs)
