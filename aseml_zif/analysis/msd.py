"""Mean squared displacement per element, from unwrapped positions, with time-origin averaging."""
import numpy as np
from ase.data import chemical_symbols

from .._deprecation import renamed_argument
from ..errors import SettingsError, StructureError
from .frames import as_frame_list
from .rdf import _FrameAccumulator, progress

__all__ = ["MSD", "unwrap_step"]


def unwrap_step(previous_wrapped, wrapped, cell):
    """Cartesian displacement between two consecutive frames, undoing wrapping.

    The displacement of the wrapped positions is reduced by the lattice vector of the
    *new* cell that is nearest in fractional coordinates ("TOR" scheme of von Bülow,
    Bullerjahn & Hummer, J. Chem. Phys. 153, 021101 (2020)), which stays correct when the
    cell changes between frames (NPT) and for triclinic cells, as long as no atom moves more
    than about half a cell width between frames.

    Parameters
    ----------
    previous_wrapped, wrapped : numpy.ndarray, shape (n, 3)
        Positions in Å of the previous and current frame.
    cell : numpy.ndarray, shape (3, 3)
        Cell of the current frame (rows are lattice vectors, Å).

    Returns
    -------
    numpy.ndarray, shape (n, 3)
        Displacements in Å.
    """
    step = wrapped - previous_wrapped
    frac = np.linalg.solve(cell.T, step.T).T
    return step - np.round(frac) @ cell


def _msd_all_origins(x):
    """MSD(m) per atom averaged over all time origins, by the FFT algorithm.

    MSD(m) = 1/(T−m) Σ_k |x(k+m) − x(k)|² computed as S1(m) − 2 S2(m) with S2 the position
    autocorrelation from FFTs (Kneller et al., Comput. Phys. Commun. 91, 191 (1995)), O(T log T).

    Parameters
    ----------
    x : numpy.ndarray, shape (T, n, 3)
        Unwrapped positions in Å.

    Returns
    -------
    numpy.ndarray, shape (T, n)
        MSD in Å² for lags 0 … T−1.
    """
    t = x.shape[0]
    remaining = (t - np.arange(t))[:, None]
    spectrum = np.fft.rfft(x, n=2 * t, axis=0)
    s2 = np.fft.irfft(spectrum * spectrum.conj(), n=2 * t, axis=0)[:t].sum(axis=2) / remaining
    sq = (x**2).sum(axis=2)
    total = 2.0 * sq.sum(axis=0)
    removed = np.cumsum(sq, axis=0)[:-1] + np.cumsum(sq[::-1], axis=0)[:-1]
    s1 = np.concatenate([total[None], total[None] - removed]) / remaining
    return s1 - 2.0 * s2


class MSD(_FrameAccumulator):
    """Mean squared displacement per element, averaged over all time origins.

    Positions are unwrapped frame to frame with :func:`unwrap_step` (triclinic and NPT
    cells); MSD(τ) = ``<|r(t₀+τ) − r(t₀)|²>`` over atoms of an element and over every time origin
    t₀ of the trajectory, for lags τ up to ``max_lag`` frames (the averaging window).

    Parameters
    ----------
    timestep_fs : float
        Time between two consecutive frames of the input, in fs (before ``stride``).
    max_lag : int, optional
        Largest lag in (strided) frames; default: half the number of frames, where every lag
        still averages over at least half of the trajectory.
    stride : int
        Use every ``stride``-th frame (then frames are ``stride * timestep_fs`` apart).
    timestep : float, optional
        Deprecated name of ``timestep_fs`` (warns).

    Raises
    ------
    SettingsError
        No or a non-positive time step, ``max_lag < 1``, or both ``timestep_fs`` and ``timestep``.

    Notes
    -----
    Successive calls to :meth:`compute` continue the same trajectory.
    """

    def __init__(self, timestep_fs=None, max_lag=None, stride=1, *, timestep=None):
        timestep_fs = renamed_argument("MSD", "timestep", "timestep_fs", timestep, timestep_fs)
        if timestep_fs is None or not timestep_fs > 0:
            raise SettingsError(f"MSD: timestep_fs must be > 0 fs, got {timestep_fs}")
        if max_lag is not None and max_lag < 1:
            raise SettingsError(f"MSD: max_lag must be >= 1 frame, got {max_lag}")
        self.timestep_fs = float(timestep_fs)
        self.max_lag = max_lag
        self.stride = int(stride)
        self._numbers = None
        self._last_wrapped = None
        self._unwrapped = []

    def compute(self, frames):
        """Append ``frames`` (Atoms, list, or trajectory path) to the trajectory; return self."""
        frames = as_frame_list(frames, self.stride)
        for k, atoms in enumerate(progress(frames, "MSD")):
            frame = self._n_frames
            if self._numbers is None:
                self._numbers = atoms.numbers.copy()
                self._unwrapped.append(atoms.positions.copy())
            else:
                if not np.array_equal(atoms.numbers, self._numbers):
                    raise StructureError(
                        f"frame {frame}: atoms differ from frame 0 (count or order of elements)"
                    )
                cell = np.asarray(atoms.cell[:])
                if abs(np.linalg.det(cell)) < 1e-9:
                    raise StructureError(f"frame {frame}: zero-volume cell, cannot unwrap")
                step = unwrap_step(self._last_wrapped, atoms.positions, cell)
                self._unwrapped.append(self._unwrapped[-1] + step)
            self._last_wrapped = atoms.positions.copy()
            self._n_frames += 1
        return self

    def _lags(self):
        self._require_frames()
        default = max(self._n_frames // 2, 1)
        return min(self.max_lag or default, self._n_frames - 1) + 1

    @property
    def times(self):
        """Lag times in fs, starting at 0."""
        return np.arange(self._lags()) * self.timestep_fs * self.stride

    @property
    def unwrapped_positions(self):
        """Unwrapped positions in Å, shape ``(n_frames, n_atoms, 3)``."""
        self._require_frames()
        return np.asarray(self._unwrapped)

    @property
    def msd(self):
        """{element: MSD(τ) in Å² at :attr:`times`} for each element, plus ``"all"``."""
        per_atom = _msd_all_origins(self.unwrapped_positions)[: self._lags()]
        out = {chemical_symbols[z]: per_atom[:, self._numbers == z].mean(axis=1)
               for z in np.unique(self._numbers)}
        out["all"] = per_atom.mean(axis=1)
        return out

    def plot(self, ax=None):
        """Plot MSD(τ) of each element against τ in ps. Returns the matplotlib axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            ax = plt.figure().add_subplot()
        t_ps = self.times / 1000.0
        for element, values in self.msd.items():
            if element != "all":
                ax.plot(t_ps, values, label=element)
        ax.set_xlabel("time (ps)")
        ax.set_ylabel("MSD (Å$^2$)")
        ax.legend()
        return ax

    def to_dict(self):
        """JSON-able results: lag times (fs) and MSD per element (Å²)."""
        return {
            "time_fs": self.times.tolist(),
            "msd": {k: v.tolist() for k, v in self.msd.items()},
            "n_frames": self.n_frames,
        }
