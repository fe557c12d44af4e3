"""Bond-angle distributions (default N–Zn–N, Zn–N bonds within 2.5 Å) and the angular PMF."""
import numpy as np

from ..errors import AsemlZifError, SettingsError
from .frames import as_frame_list
from .rdf import _FrameAccumulator, pair_neighbors, potential_of_mean_force, progress

__all__ = ["BondAngles"]


def angles_around_centers(i, vectors):
    """All angles (degrees) between pairs of bond vectors that share a centre atom.

    Parameters
    ----------
    i : numpy.ndarray of int, shape (n,)
        Centre index of each bond.
    vectors : numpy.ndarray, shape (n, 3)
        Bond vectors in Å.

    Returns
    -------
    numpy.ndarray
        One angle per unordered pair of bonds of the same centre, in degrees.
    """
    order = np.argsort(i, kind="stable")
    i, unit = i[order], vectors[order]
    unit = unit / np.linalg.norm(unit, axis=1)[:, None]
    centers, starts, counts = np.unique(i, return_index=True, return_counts=True)
    out = []
    for c in np.unique(counts[counts >= 2]):
        first = starts[counts == c]
        bonds = unit[first[:, None] + np.arange(c)]  # (n_centers, c, 3)
        a, b = np.triu_indices(c, 1)
        cos = np.einsum("nkx,nkx->nk", bonds[:, a], bonds[:, b])
        out.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).ravel())
    return np.concatenate(out) if out else np.zeros(0)


class BondAngles(_FrameAccumulator):
    """Distribution of neighbor–center–neighbor angles (default N–Zn–N), in degrees.

    A bond is a center–neighbor pair closer than ``cutoff``; every pair of bonds of the same
    centre atom gives one angle. Used in Castel et al. 2024 (N–Zn–N distribution and its PMF);
    an ideal tetrahedron gives 109.47°.

    Parameters
    ----------
    center, neighbor : str
        Element symbols of the vertex and of the two arms.
    cutoff : float
        Bond cut-off in Å.
    bins : int
        Histogram bins on [0°, 180°].
    stride : int
        Analyse every ``stride``-th frame.
    """

    def __init__(self, center="Zn", neighbor="N", cutoff=2.5, bins=180, stride=1):
        if cutoff <= 0 or bins < 1:
            raise SettingsError(f"need cutoff > 0 and bins >= 1, got {cutoff}, {bins}")
        self.center = center
        self.neighbor = neighbor
        self.cutoff = float(cutoff)
        self.stride = int(stride)
        self.bin_edges = np.linspace(0.0, 180.0, int(bins) + 1)
        self._hist = np.zeros(int(bins))
        self._sum = 0.0

    @property
    def bin_centers(self):
        """Bin centres in degrees."""
        return 0.5 * (self.bin_edges[1:] + self.bin_edges[:-1])

    def compute(self, frames):
        """Accumulate angles over ``frames`` (Atoms, list, or trajectory path); return self."""
        frames = as_frame_list(frames, self.stride)
        desc = f"angles {self.neighbor}-{self.center}-{self.neighbor}"
        for k, atoms in enumerate(progress(frames, desc)):
            i, vectors = pair_neighbors(atoms, self.center, self.neighbor, self.cutoff, "iD", k)
            theta = angles_around_centers(i, vectors)
            self._hist += np.histogram(theta, bins=self.bin_edges)[0]
            self._sum += theta.sum()
            self._n_frames += 1
        return self

    @property
    def n_angles(self):
        """Total number of angles accumulated."""
        return int(self._hist.sum())

    def _require_angles(self):
        self._require_frames()
        if self.n_angles == 0:
            raise AsemlZifError(
                f"no {self.neighbor}-{self.center}-{self.neighbor} angle within {self.cutoff} Å"
            )

    @property
    def distribution(self):
        """Probability density P(θ) per degree at :attr:`bin_centers` (integrates to 1)."""
        self._require_angles()
        return self._hist / (self.n_angles * np.diff(self.bin_edges))

    @property
    def mean(self):
        """Mean angle in degrees."""
        self._require_angles()
        return self._sum / self.n_angles

    @property
    def most_probable(self):
        """Centre of the most populated bin, in degrees."""
        self._require_angles()
        return float(self.bin_centers[np.argmax(self._hist)])

    def pmf(self, temperature, solid_angle=False):
        """Angular potential of mean force −k_B T ln(P/P_max) in kJ/mol.

        Parameters
        ----------
        temperature : float
            Temperature in K.
        solid_angle : bool
            Divide P(θ) by sin θ first (removes the entropic weight of random directions,
            for which P ∝ sin θ). Default False: the plain distribution.
        """
        p = self.distribution
        if solid_angle:
            p = p / np.sin(np.radians(self.bin_centers))
        return potential_of_mean_force(p, temperature)

    def plot(self, ax=None):
        """Plot P(θ) in degrees. Returns the matplotlib axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            ax = plt.figure().add_subplot()
        ax.plot(self.bin_centers, self.distribution)
        ax.axvline(np.degrees(np.arccos(-1.0 / 3.0)), ls=":", color="gray", label="tetrahedral")
        ax.set_xlabel(f"{self.neighbor}–{self.center}–{self.neighbor} angle (°)")
        ax.set_ylabel("P(θ) (1/°)")
        ax.legend()
        return ax

    def to_dict(self):
        """JSON-able results: settings, θ (°), P(θ), mean, most probable, counts."""
        return {
            "center": self.center,
            "neighbor": self.neighbor,
            "cutoff": self.cutoff,
            "theta": self.bin_centers.tolist(),
            "distribution": self.distribution.tolist(),
            "mean": self.mean,
            "most_probable": self.most_probable,
            "n_angles": self.n_angles,
            "n_frames": self.n_frames,
        }
