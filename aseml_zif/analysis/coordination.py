"""Coordination numbers (default Zn–N within 2.5 Å): mean and distribution over frames."""
import numpy as np

from ..errors import SettingsError
from .frames import as_frame_list
from .rdf import _FrameAccumulator, pair_neighbors, progress, species_indices

__all__ = ["Coordination"]


class Coordination(_FrameAccumulator):
    """Number of ``neighbor`` atoms within ``cutoff`` of each ``center`` atom, over frames.

    The paper (Castel et al. 2024) reports the Zn–N coordination number with a 2.5 Å cut-off:
    4 in the crystal, 3.93 on average in the ab initio glasses.

    Parameters
    ----------
    center, neighbor : str
        Element symbols.
    cutoff : float
        Bond cut-off in Å (periodic images included, triclinic cells fine).
    stride : int
        Analyse every ``stride``-th frame.

    Examples
    --------
    >>> cn = Coordination("Zn", "N", 2.5).compute(glasses)
    >>> cn.mean, cn.distribution            # e.g. 3.93, {3: 0.07, 4: 0.93}
    """

    def __init__(self, center="Zn", neighbor="N", cutoff=2.5, stride=1):
        if cutoff <= 0:
            raise SettingsError(f"cutoff must be > 0 Å, got {cutoff}")
        self.center = center
        self.neighbor = neighbor
        self.cutoff = float(cutoff)
        self.stride = int(stride)
        self._value_counts = np.zeros(0, dtype=np.int64)
        self._per_frame = []

    def compute(self, frames):
        """Accumulate coordination numbers over ``frames`` (Atoms, list, or path); return self."""
        frames = as_frame_list(frames, self.stride)
        desc = f"CN {self.center}-{self.neighbor}"
        for k, atoms in enumerate(progress(frames, desc)):
            centers = species_indices(atoms, self.center, k)
            (i,) = pair_neighbors(atoms, self.center, self.neighbor, self.cutoff, "i", k)
            cn = np.bincount(i, minlength=len(atoms))[centers]
            counts = np.bincount(cn)
            if counts.size > self._value_counts.size:
                self._value_counts = np.pad(self._value_counts, (0, counts.size - self._value_counts.size))
            self._value_counts[: counts.size] += counts
            self._per_frame.append(cn.mean())
            self._n_frames += 1
        return self

    @property
    def mean(self):
        """Mean coordination number over all centre atoms of all frames."""
        self._require_frames()
        values = np.arange(self._value_counts.size)
        return float(values @ self._value_counts / self._value_counts.sum())

    @property
    def distribution(self):
        """Fraction of centre atoms (over all frames) with each coordination number: {cn: fraction}."""
        self._require_frames()
        total = self._value_counts.sum()
        return {int(v): float(c / total) for v, c in enumerate(self._value_counts) if c}

    @property
    def per_frame(self):
        """Mean coordination number of each frame, shape ``(n_frames,)``."""
        self._require_frames()
        return np.asarray(self._per_frame)

    def plot(self, ax=None):
        """Bar chart of the coordination-number distribution. Returns the matplotlib axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            ax = plt.figure().add_subplot()
        dist = self.distribution
        ax.bar(list(dist), list(dist.values()), width=0.6)
        ax.set_xticks(list(dist))
        ax.set_xlabel(f"{self.center}–{self.neighbor} coordination number")
        ax.set_ylabel("fraction")
        ax.set_title(f"mean {self.mean:.3f} (cut-off {self.cutoff} Å)")
        return ax

    def to_dict(self):
        """JSON-able results: settings, mean, distribution (keys as strings), per-frame means."""
        return {
            "center": self.center,
            "neighbor": self.neighbor,
            "cutoff": self.cutoff,
            "mean": self.mean,
            "distribution": {str(k): v for k, v in self.distribution.items()},
            "per_frame": self.per_frame.tolist(),
            "n_frames": self.n_frames,
        }
