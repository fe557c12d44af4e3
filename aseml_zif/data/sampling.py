"""Train/test/validation splits: random, and the flat-histogram sampling of Castel et al. (2024).

Flat-histogram sampling (Castel et al., Digital Discovery 3, 355 (2024), Sec. 2.2 and Fig. 3a):
the frames are binned by energy per atom into as many equal-width bins as requested samples, and
one frame is drawn at random from each non-empty bin (without replacement) to form the training
set, which may therefore hold fewer frames than requested; the binning is repeated on the
remaining frames to draw the test set; everything left is the validation set. Rare high- and
low-energy configurations are thus over-represented relative to random sampling.
"""
import numpy as np

from ..errors import StructureError

__all__ = ["energies_per_atom", "split_random", "split_flat_histogram", "plot_split_histogram"]


def energies_per_atom(frames):
    """Energy per atom (eV/atom) of each frame, or the given 1-D array unchanged.

    Parameters
    ----------
    frames : sequence of ase.Atoms with an energy, or array_like of float
        Labelled frames, or energies per atom directly.

    Raises
    ------
    StructureError
        A frame without an energy (its index is named) or an array that is not 1-D and finite.
    """
    from ase import Atoms

    frames = list(frames) if not isinstance(frames, np.ndarray) else frames
    if len(frames) and isinstance(frames[0], Atoms):
        values = []
        for k, atoms in enumerate(frames):
            try:
                values.append(atoms.get_potential_energy() / len(atoms))
            except Exception as exc:
                raise StructureError(f"frame {k} has no energy ({exc})") from exc
        return np.array(values)
    values = np.asarray(frames, dtype=float)
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise StructureError("energies per atom must be a finite 1-D array")
    return values


def _check_counts(n_frames, n_train, n_test):
    if n_train < 0 or n_test < 0:
        raise StructureError(f"n_train and n_test must be >= 0, got {n_train}, {n_test}")
    if n_train + n_test > n_frames:
        raise StructureError(
            f"cannot draw {n_train} training + {n_test} test frames from {n_frames} frames"
        )


def split_random(frames, n_train, n_test, seed=0):
    """Random split into training, test and validation sets.

    Parameters
    ----------
    frames : sequence of ase.Atoms with energies, or 1-D array of energies per atom (eV/atom)
    n_train, n_test : int
        Numbers of training and test frames; the rest is validation.
    seed : int
        Seed of the NumPy generator: the same seed gives the same split.

    Returns
    -------
    train, test, validation : numpy.ndarray of int
        Frame indices, sorted.
    """
    n = len(energies_per_atom(frames))
    _check_counts(n, n_train, n_test)
    order = np.random.default_rng(seed).permutation(n)
    return (np.sort(order[:n_train]), np.sort(order[n_train : n_train + n_test]),
            np.sort(order[n_train + n_test :]))


def _one_per_bin(energies, candidates, n_bins, rng):
    """Draw one index at random from each non-empty energy bin of ``candidates``."""
    if n_bins == 0 or len(candidates) == 0:
        return np.array([], dtype=int)
    values = energies[candidates]
    edges = np.histogram_bin_edges(values, bins=n_bins)
    which = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bins - 1)
    chosen = [rng.choice(candidates[which == b]) for b in range(n_bins) if np.any(which == b)]
    return np.sort(np.array(chosen, dtype=int))


def split_flat_histogram(frames, n_train, n_test, seed=0):
    """Flat-histogram split of Castel et al. (2024): one frame per energy bin.

    Parameters
    ----------
    frames : sequence of ase.Atoms with energies, or 1-D array of energies per atom (eV/atom)
    n_train, n_test : int
        Requested numbers of training and test frames = numbers of energy bins. Empty bins
        yield no frame, so fewer frames than requested may be returned.
    seed : int
        Seed of the NumPy generator: the same seed gives the same split.

    Returns
    -------
    train, test, validation : numpy.ndarray of int
        Frame indices, sorted; validation holds all frames in neither set.
    """
    energies = energies_per_atom(frames)
    n = len(energies)
    _check_counts(n, n_train, n_test)
    rng = np.random.default_rng(seed)
    everything = np.arange(n)
    train = _one_per_bin(energies, everything, n_train, rng)
    remaining = np.setdiff1d(everything, train)
    test = _one_per_bin(energies, remaining, n_test, rng)
    return train, test, np.setdiff1d(remaining, test)


def plot_split_histogram(frames, splits, ax=None, bins=40, labels=("train", "test", "validation")):
    """Energy-per-atom distributions of the full set and of each split (paper's Fig. 3a).

    Parameters
    ----------
    frames : sequence of ase.Atoms with energies, or 1-D array of energies per atom (eV/atom)
    splits : sequence of index arrays
        E.g. the ``(train, test, validation)`` returned by a split function.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made if omitted.
    bins : int
        Number of histogram bins over the full energy range.
    labels : sequence of str
        Legend label of each split.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    energies = energies_per_atom(frames)
    if ax is None:
        _, ax = plt.subplots()
    edges = np.histogram_bin_edges(energies, bins=bins)
    ax.hist(energies, bins=edges, density=True, histtype="stepfilled", alpha=0.3, label="all")
    for indices, name in zip(splits, labels):
        if len(indices):
            ax.hist(energies[np.asarray(indices)], bins=edges, density=True, histtype="step",
                    label=f"{name} ({len(indices)})")
    ax.set_xlabel("energy per atom (eV/atom)")
    ax.set_ylabel("probability density")
    ax.legend()
    return ax
