"""Time averages with block error bars, and mean ± standard deviation over several models.

Castel et al., Digital Discovery 3, 355 (2024), Tables 2 and 3 report each property as the mean
± standard deviation over ten glass models; :func:`mean_std_over_models` does that.
"""
import numpy as np

from .errors import MechanicsError

__all__ = ["block_average", "mean_std_over_models", "format_mean_std"]


def block_average(series, n_blocks=10):
    """Mean of a correlated time series and its standard error from block averaging.

    The series is cut into ``n_blocks`` contiguous blocks (a remainder at the start is dropped);
    the error is ``std(block means) / √n_blocks``. It is honest when a block is much longer than
    the correlation time (H. Flyvbjerg and H. G. Petersen, J. Chem. Phys. 91, 461 (1989)).

    Parameters
    ----------
    series : sequence of float
        Samples at equal time intervals (any unit; the result has the same unit).
    n_blocks : int
        Number of blocks, at least 2.

    Returns
    -------
    (float, float)
        Mean and its standard error.
    """
    x = np.asarray(series, dtype=float)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise MechanicsError("block_average needs a 1-D series of finite numbers")
    if n_blocks < 2 or len(x) < n_blocks:
        raise MechanicsError(f"cannot cut {len(x)} samples into {n_blocks} blocks (need n_blocks >= 2)")
    size = len(x) // n_blocks
    means = x[len(x) - size * n_blocks:].reshape(n_blocks, size).mean(axis=1)
    return float(x.mean()), float(means.std(ddof=1) / np.sqrt(n_blocks))


def mean_std_over_models(results, keys=None):
    """Mean and sample standard deviation of each property over several models.

    Parameters
    ----------
    results : sequence of dict or of objects with attributes
        One entry per model (e.g. the dicts of :func:`~aseml_zif.mechanics.elastic_moduli` for
        ten glasses, or :class:`~aseml_zif.mechanics.BirchMurnaghanFit` objects).
    keys : sequence of str, optional
        Properties to average; default every scalar numeric key of the first dict.

    Returns
    -------
    dict
        ``{key: (mean, std)}`` with ``std`` the sample standard deviation (ddof=1), as in the
        paper's "mean ± standard deviation over ten models".
    """
    results = list(results)
    if len(results) < 2:
        raise MechanicsError(f"need at least two models to average, got {len(results)}")

    def get(entry, key):
        value = entry[key] if isinstance(entry, dict) else getattr(entry, key, None)
        if value is None or np.ndim(value) != 0:
            raise MechanicsError(f"model result has no scalar property {key!r}")
        return float(value)

    if keys is None:
        if not isinstance(results[0], dict):
            raise MechanicsError("give keys= when the model results are not dicts")
        keys = [k for k, v in results[0].items()
                if np.ndim(v) == 0 and isinstance(v, (int, float, np.number)) and not isinstance(v, bool)]
    table = {}
    for key in keys:
        values = np.array([get(entry, key) for entry in results])
        table[key] = (float(values.mean()), float(values.std(ddof=1)))
    return table


def format_mean_std(table, digits=2):
    """Lines ``key = mean ± std`` of a table from :func:`mean_std_over_models`."""
    return "\n".join(f"{k} = {m:.{digits}f} ± {s:.{digits}f}" for k, (m, s) in table.items())
