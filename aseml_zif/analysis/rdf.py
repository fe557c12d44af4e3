"""Partial radial distribution functions g_ab(r), running coordination n_ab(r), and the PMF.

Also home of the helpers shared by the pair-based analyses (:mod:`.coordination`,
:mod:`.angles`, :mod:`.scattering`): species selection with clear errors, species-restricted
neighbour pairs, and the progress bar.
"""
from types import SimpleNamespace

import numpy as np
from ase import units
from ase.data import atomic_numbers

from .._progress import progress_bar
from ..errors import AsemlZifError, SettingsError, StructureError
from ..neighbors import neighbor_list
from .frames import as_frame_list

__all__ = ["RDF", "potential_of_mean_force"]

#: Boltzmann constant in kJ/(mol K).
KB_KJ_PER_MOL = units.kB / (units.kJ / units.mol)

#: Show a progress bar from this many frames on.
_PROGRESS_MIN_FRAMES = 20


def progress(frames, desc):
    """Iterate over ``frames`` with a tqdm bar when the work is long enough to need one."""
    return progress_bar(frames, desc=desc, disable=len(frames) < _PROGRESS_MIN_FRAMES,
                        leave=False)


def species_indices(atoms, symbol, frame=0):
    """Indices of the atoms of element ``symbol``.

    Raises
    ------
    StructureError
        If ``symbol`` is not an element, or frame number ``frame`` contains no such atom
        (the message lists what it contains).
    """
    if symbol not in atomic_numbers:
        raise StructureError(f"{symbol!r} is not an element symbol")
    idx = np.flatnonzero(atoms.numbers == atomic_numbers[symbol])
    if idx.size == 0:
        present = ", ".join(sorted(set(atoms.get_chemical_symbols()))) or "no atoms"
        raise StructureError(f"frame {frame}: no {symbol!r} atoms (it contains {present})")
    return idx


def periodic_volume(atoms, frame=0):
    """Cell volume in Å³ of a fully periodic frame (a density needs one)."""
    if not np.all(atoms.pbc):
        raise StructureError(f"frame {frame}: not periodic in all directions (pbc={atoms.pbc})")
    volume = abs(atoms.cell.volume)
    if volume < 1e-9:
        raise StructureError(f"frame {frame}: zero-volume cell")
    return volume


def pair_neighbors(atoms, center, neighbor, cutoff, quantities="ijd", frame=0):
    """Periodic pairs (i, j) with i of element ``center``, j of element ``neighbor``, |r_ij| < cutoff.

    Only the atoms of the two elements enter the neighbour search, which makes sparse pairs
    (Zn–N among 272 ZIF atoms) several times cheaper than a full list.

    Parameters
    ----------
    atoms : ase.Atoms
    center, neighbor : str
        Element symbols (may be equal).
    cutoff : float
        Cut-off radius in Å.
    quantities : str
        Letters of :func:`aseml_zif.neighbors.neighbor_list` (``i``, ``j``, ``S``, ``D``, ``d``);
        ``i`` and ``j`` are indices into ``atoms``.
    frame : int
        Frame number, used in error messages.

    Returns
    -------
    tuple of numpy.ndarray
        One array per letter of ``quantities``.
    """
    species_indices(atoms, center, frame)  # clear errors for absent elements
    species_indices(atoms, neighbor, frame)
    z_center, z_neighbor = atomic_numbers[center], atomic_numbers[neighbor]
    numbers = atoms.numbers
    subset = np.flatnonzero((numbers == z_center) | (numbers == z_neighbor))
    # the neighbour search reads only positions, cell and pbc: skip building an Atoms
    sub = SimpleNamespace(positions=atoms.positions[subset], cell=atoms.cell, pbc=atoms.pbc)
    extra = quantities.replace("i", "").replace("j", "")
    values = neighbor_list(sub, cutoff, "ij" + extra)
    out = dict(zip(extra, values[2:]))
    out["i"], out["j"] = subset[values[0]], subset[values[1]]
    keep = (numbers[out["i"]] == z_center) & (numbers[out["j"]] == z_neighbor)
    return tuple(out[letter][keep] for letter in quantities)


def potential_of_mean_force(distribution, temperature):
    """Potential of mean force F = −k_B T (ln g − ln g_max), in kJ/mol.

    Eq. of Castel et al., Digital Discovery 3, 355 (2024), applied to a radial distribution
    g(r) or to an angle distribution. The minimum (at the most probable value) is 0.

    Parameters
    ----------
    distribution : array_like
        Non-negative g(r) or P(θ); only ratios matter.
    temperature : float
        Temperature in K.

    Returns
    -------
    numpy.ndarray
        F in kJ/mol; ``+inf`` where the distribution is 0 (never observed: unbounded PMF).

    Raises
    ------
    SettingsError
        Negative values, an all-zero distribution or a non-positive temperature.
    """
    g = np.asarray(distribution, dtype=float)
    if temperature <= 0:
        raise SettingsError(f"temperature must be > 0 K, got {temperature}")
    if np.any(g < 0) or not np.all(np.isfinite(g)):
        raise SettingsError("a distribution for a PMF must be finite and non-negative")
    g_max = g.max(initial=0.0)
    if g_max <= 0:
        raise SettingsError("the distribution is zero everywhere: no PMF")
    with np.errstate(divide="ignore"):
        return -KB_KJ_PER_MOL * temperature * (np.log(g) - np.log(g_max))


class _FrameAccumulator:
    """Common bookkeeping of the analysis classes: frame count and the 'nothing yet' error."""

    _n_frames = 0

    @property
    def n_frames(self):
        """Number of frames accumulated so far."""
        return self._n_frames

    def _require_frames(self):
        if self._n_frames == 0:
            raise AsemlZifError(f"{type(self).__name__}: call compute(frames) first")


class RDF(_FrameAccumulator):
    """Partial radial distribution function g_ab(r) and running coordination n_ab(r).

    g_ab(r) = <h_ab(r)> / (N_a ρ_b 4π r² dr), where h_ab counts the b atoms (all periodic
    images) in the shell [r, r + dr) around the a atoms of one frame and ρ_b = N_b / V, so
    that an ideal gas gives 1. Each frame is normalised with its own volume (NPT-safe) and
    g is the mean over frames. n_ab(r) = 4π ρ_b ∫₀ʳ g_ab(s) s² ds is the mean number of b
    atoms within r of an a atom (from the raw counts, exact at the bin edges).

    For a = b each atom's own periodic images count as neighbours (the infinite-crystal view,
    as in ASE and freud), so a one-atom cell has an RDF; in a disordered model with N_b atoms
    of that element g therefore tends to (N_b − 1)/N_b, not 1, below the cell length
    (0.94 for the 16 Zn of a ZIF-4 cell). :class:`~.scattering.XRayScattering` leaves the
    self-images out instead.

    Parameters
    ----------
    pair : tuple of str
        Elements (a, b), e.g. ``("Zn", "N")``; a = b is allowed.
    r_max : float
        Largest distance in Å (may exceed half the cell: all images are counted).
    bins : int
        Number of bins of width ``r_max / bins`` on [0, r_max].
    stride : int
        Analyse every ``stride``-th frame.

    Examples
    --------
    >>> rdf = RDF(("Zn", "N"), r_max=8.0).compute("glass.traj")
    >>> r, g, n = rdf.bin_centers, rdf.rdf, rdf.coordination_integral
    """

    def __init__(self, pair=("Zn", "N"), r_max=10.0, bins=200, stride=1):
        if len(pair) != 2:
            raise SettingsError(f"pair must be two element symbols, got {pair!r}")
        if r_max <= 0 or bins < 1:
            raise SettingsError(f"need r_max > 0 and bins >= 1, got {r_max}, {bins}")
        self.pair = tuple(pair)
        self.r_max = float(r_max)
        self.bins = int(bins)
        self.stride = int(stride)
        self.bin_edges = np.linspace(0.0, self.r_max, self.bins + 1)
        self._g_sum = np.zeros(self.bins)
        self._counts_per_center = np.zeros(self.bins)

    @property
    def bin_centers(self):
        """Bin centres r in Å."""
        return 0.5 * (self.bin_edges[1:] + self.bin_edges[:-1])

    def compute(self, frames):
        """Accumulate g_ab(r) over ``frames`` (Atoms, list, or trajectory path); return self."""
        a, b = self.pair
        frames = as_frame_list(frames, self.stride)
        shell = 4.0 / 3.0 * np.pi * np.diff(self.bin_edges**3)
        for k, atoms in enumerate(progress(frames, f"RDF {a}-{b}")):
            volume = periodic_volume(atoms, k)
            (d,) = pair_neighbors(atoms, a, b, self.r_max, "d", k)
            n_a = species_indices(atoms, a, k).size
            n_b = species_indices(atoms, b, k).size
            hist = np.histogram(d, bins=self.bins, range=(0.0, self.r_max))[0]
            self._counts_per_center += hist / n_a
            self._g_sum += hist / (n_a * n_b / volume * shell)
            self._n_frames += 1
        return self

    @property
    def rdf(self):
        """g_ab(r) at :attr:`bin_centers` (dimensionless, 1 for an ideal gas)."""
        self._require_frames()
        return self._g_sum / self._n_frames

    @property
    def coordination_integral(self):
        """n_ab(r): mean number of b atoms within ``bin_edges[1:]`` of an a atom."""
        self._require_frames()
        return np.cumsum(self._counts_per_center) / self._n_frames

    def pmf(self, temperature):
        """Potential of mean force of g_ab(r) in kJ/mol (see :func:`potential_of_mean_force`)."""
        return potential_of_mean_force(self.rdf, temperature)

    def plot(self, ax=None):
        """Plot g_ab(r) and, on a right axis, n_ab(r). Returns the matplotlib axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            ax = plt.figure().add_subplot()
        a, b = self.pair
        ax.plot(self.bin_centers, self.rdf, label=f"g$_{{{a}{b}}}$(r)")
        ax.set_xlabel("r (Å)")
        ax.set_ylabel("g(r)")
        twin = ax.twinx()
        twin.plot(self.bin_edges[1:], self.coordination_integral, "--", color="gray")
        twin.set_ylabel(f"n$_{{{a}{b}}}$(r)")
        ax.legend(loc="upper left")
        return ax

    def to_dict(self):
        """JSON-able results: pair, r (Å), g(r), n(r) at bin edges, number of frames."""
        return {
            "pair": list(self.pair),
            "r": self.bin_centers.tolist(),
            "g": self.rdf.tolist(),
            "r_edges": self.bin_edges[1:].tolist(),
            "coordination_integral": self.coordination_integral.tolist(),
            "n_frames": self.n_frames,
        }
