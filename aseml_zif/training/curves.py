"""Learning curves from nequip's CSV logs, and a results table like the paper's Table 1."""
import csv
from pathlib import Path

import numpy as np

from ..errors import AsemlZifError

__all__ = ["read_learning_curve", "plot_learning_curve", "results_table"]


def read_learning_curve(metrics_csv):
    """Per-epoch metrics of a ``nequip-train`` run (Lightning ``CSVLogger`` file).

    Parameters
    ----------
    metrics_csv : path-like or TrainingRun
        ``metrics.csv`` (or a :class:`~aseml_zif.training.runner.TrainingRun`).

    Returns
    -------
    dict of str to numpy.ndarray
        ``epoch`` and every ``*_epoch/*`` column (e.g. ``val0_epoch/forces_mae`` in eV/Å,
        ``train_metric_epoch/per_atom_energy_mae`` in eV/atom, ``train_loss_epoch/weighted_sum``),
        one value per epoch (NaN if not logged).

    Raises
    ------
    AsemlZifError
        Missing or empty file.
    """
    path = Path(getattr(metrics_csv, "metrics_csv", metrics_csv))
    if not path.is_file():
        raise AsemlZifError(f"{path}: no such metrics file")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise AsemlZifError(f"{path}: no logged metrics")
    columns = [c for c in rows[0] if "_epoch/" in c]
    epochs = sorted({int(r["epoch"]) for r in rows if r["epoch"] != ""})
    where = {e: i for i, e in enumerate(epochs)}
    curve = {c: np.full(len(epochs), np.nan) for c in columns}
    for r in rows:
        if r["epoch"] == "":
            continue
        for c in columns:
            if r[c] != "":
                curve[c][where[int(r["epoch"])]] = float(r[c])
    curve["epoch"] = np.array(epochs)
    return curve


def plot_learning_curve(metrics_csv, metric="forces_mae", ax=None):
    """Training and validation ``metric`` against epoch (the paper's Fig. 3d).

    Parameters
    ----------
    metrics_csv : path-like or TrainingRun
    metric : str
        nequip metric name, e.g. ``forces_mae`` (eV/Å) or ``per_atom_energy_mae`` (eV/atom).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    curve = read_learning_curve(metrics_csv)
    if ax is None:
        _, ax = plt.subplots()
    found = False
    for prefix, name in (("train_metric", "train"), ("val0", "validation")):
        key = f"{prefix}_epoch/{metric}"
        if key in curve and np.isfinite(curve[key]).any():
            ax.semilogy(curve["epoch"], curve[key], label=name)
            found = True
    if not found:
        raise AsemlZifError(f"metric {metric!r} not logged; available: "
                            f"{sorted({k.split('/')[-1] for k in curve if '/' in k})}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.legend()
    return ax


_COLUMNS = [("model", "model", "{}"), ("energy_mae_meV_per_atom", "E MAE (meV/atom)", "{:.2f}"),
            ("force_mae_meV_per_A", "F MAE (meV/Å)", "{:.1f}"),
            ("stress_mae_MPa", "σ MAE (MPa)", "{:.1f}"),
            ("us_per_atom_per_call", "speed (µs/atom/call)", "{:.1f}")]


def results_table(rows):
    """Markdown table of evaluation results, one row per model (like the paper's Table 1).

    Parameters
    ----------
    rows : list of dict
        Each an :func:`~aseml_zif.training.evaluation.evaluate` result plus a ``model`` name; missing
        entries print as ``–``.

    Returns
    -------
    str
    """
    lines = ["| " + " | ".join(title for _, title, _ in _COLUMNS) + " |",
             "|" + "---|" * len(_COLUMNS)]
    for row in rows:
        cells = []
        for key, _, fmt in _COLUMNS:
            value = row.get(key)
            missing = value is None or (isinstance(value, float) and not np.isfinite(value))
            cells.append("–" if missing else fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
