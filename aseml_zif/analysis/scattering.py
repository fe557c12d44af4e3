"""X-ray total scattering of model structures, F(Q) and D(r), compared with measured data.

Conventions (Keen, J. Appl. Cryst. 34, 172 (2001), as written by GudrunX for the ZIF-4
measurements of Gaillac et al., Nature Mater. 16, 1149 (2017)):

* Faber–Ziman partial structure factors, with ρ₀ the atomic number density (Å⁻³) and
  c_a the atomic fractions::

      S_ab(Q) − 1 = 4π ρ₀ ∫₀^r_max r² [g_ab(r) − 1] M(r) sin(Qr)/(Qr) dr

  where M(r) is an optional Lorch window in r that damps the truncation at r_max.
* The total X-ray structure factor, with Q-dependent atomic form factors f_a(Q) and
  normalised by ⟨f²⟩ = Σ_a c_a f_a² (not ⟨f⟩²)::

      F(Q) = Σ_a Σ_b c_a c_b f_a(Q) f_b(Q) [S_ab(Q) − 1] / ⟨f²(Q)⟩

  (sum over ordered pairs). F → 0 at large Q and for an ideal gas. Optional broadening
  multiplies F(Q) by exp(−u²Q²): the Debye–Waller factor of uncorrelated isotropic
  displacements of rms u per Cartesian direction (or an instrumental resolution).
* The differential correlation function, computed from F(Q) on the experimental Q grid::

      D(r) = (2/π) ∫ Q F(Q) L(Q) sin(Qr) dQ,   L(Q) = sin(QΔ)/(QΔ) (Lorch)

  For Q-independent form factors D(r) = 4π ρ₀ r Σ c_a c_b f_a f_b [g_ab(r) − 1] / ⟨f²⟩, so
  below the first interatomic distance D(r) = −4π ρ₀ (⟨f⟩²/⟨f²⟩) r.

Measured files: ``.int01`` holds Q (Å⁻¹), F(Q) and its error; ``.dofr`` holds r (Å), D(r) and
√D (clipped at 0; *not* an error bar). The transform above applied to the measured F(Q)
reproduces the measured D(r) best with a Lorch width Δ = 0.08 Å (the default here), with
R_w = 0.12–0.15 over 0.5–20 Å: GudrunX steps not recorded in the files (presumably its
treatment of the unmeasured Q < 0.61 Å⁻¹) account for the rest.

Atomic form factors are in :mod:`.xray_form_factors`, the F(Q) → D(r) transform in
:mod:`.xray_transforms`, the readers of measured files and R_w in :mod:`.xray_measurements`;
their public names are re-exported here.
"""
from pathlib import Path

import numpy as np
from ase.data import chemical_symbols

from ..errors import DataFileError, SettingsError, StructureError  # noqa: F401  (old path)
from ..neighbors import neighbor_list
from .frames import as_frame_list
from .rdf import _FrameAccumulator, periodic_volume, progress
from .xray_form_factors import xray_form_factor
from .xray_measurements import (  # noqa: F401  (re-exported: the readers and their results)
    MeasuredPairDistribution,
    MeasuredStructureFactor,
    r_w,
    read_dofr,
    read_int01,
)
from .xray_transforms import GUDRUN_LORCH_WIDTH, _lorch, differential_correlation

__all__ = ["XRayScattering"]


class XRayScattering(_FrameAccumulator):
    """X-ray F(Q) and D(r) of periodic structures from their partial g_ab(r).

    All partial g_ab(r) are accumulated from one neighbour list per frame, leaving out each
    atom's own periodic images (sharp artefacts at the lattice-vector lengths of a small
    model; the same-species density is then (N_a − 1)/V); F(Q) and D(r)
    follow the conventions of the module docstring (Faber–Ziman, ⟨f²⟩ normalisation,
    Q-dependent Cromer–Mann form factors, Lorch windows). Compare with the ZIF-4
    measurements through :meth:`agreement` and :meth:`plot`.

    Parameters
    ----------
    r_max : float
        Range of the partial g_ab(r) in Å (images included; 20 Å suits the 15–18 Å ZIF-4 cell).
    dr : float
        Bin width in Å.
    r_window : bool
        Multiply g − 1 by the Lorch window sin(πr/r_max)/(πr/r_max) before the r → Q
        transform (suppresses truncation ripples in F(Q)).
    lorch_width : float or None
        Lorch width Δ in Å of the Q → r transform (see
        :func:`~aseml_zif.analysis.xray_transforms.differential_correlation`).
    broadening : float
        Extra rms displacement u in Å per direction (thermal motion missing from static or
        0 K structures, or instrumental resolution): F(Q) is multiplied by exp(−u²Q²).
    q_dependent_form_factors : bool
        True: f_a(Q) from the Cromer–Mann fits. False: f_a = f_a(0) ≈ Z_a at every Q, for
        which the sum rules of the module docstring hold exactly.
    stride : int
        Analyse every ``stride``-th frame.
    """

    def __init__(self, r_max=20.0, dr=0.01, r_window=True, lorch_width=GUDRUN_LORCH_WIDTH,
                 broadening=0.0, q_dependent_form_factors=True, stride=1):
        if r_max <= 0 or dr <= 0 or dr >= r_max or broadening < 0:
            raise SettingsError(
                f"need 0 < dr < r_max and broadening >= 0, got dr={dr}, r_max={r_max}, "
                f"broadening={broadening}"
            )
        self.r_max = float(r_max)
        self.nbins = int(round(r_max / dr))
        self.dr = self.r_max / self.nbins
        self.r_window = bool(r_window)
        self.lorch_width = lorch_width
        self.broadening = float(broadening)
        self.q_dependent_form_factors = bool(q_dependent_form_factors)
        self.stride = int(stride)
        self._numbers = None
        self._g_sum = None
        self._density_sum = 0.0

    @property
    def r(self):
        """Bin centres of the partial g_ab(r), in Å."""
        return (np.arange(self.nbins) + 0.5) * self.dr

    def compute(self, frames):
        """Accumulate partial g_ab(r) over ``frames`` (Atoms, list, or path); return self."""
        frames = as_frame_list(frames, self.stride)
        edges = np.arange(self.nbins + 1) * self.dr
        shell = 4.0 / 3.0 * np.pi * np.diff(edges**3)
        for k, atoms in enumerate(progress(frames, "X-ray partial RDFs")):
            volume = periodic_volume(atoms, k)
            numbers, types, counts = np.unique(atoms.numbers, return_inverse=True, return_counts=True)
            if self._numbers is None:
                for symbol in atoms.symbols.species():
                    xray_form_factor(symbol, 0.0)  # fail early on elements without data
                self._numbers, self._counts = numbers, counts
                self._g_sum = np.zeros((numbers.size, numbers.size, self.nbins))
            elif not (np.array_equal(numbers, self._numbers) and np.array_equal(counts, self._counts)):
                raise StructureError(f"frame {k}: composition differs from the first frame")
            i, j, d = neighbor_list(atoms, self.r_max, "ijd")
            distinct = i != j  # an atom's own periodic images: artefacts of the finite model
            i, j, d = i[distinct], j[distinct], d[distinct]
            ns = numbers.size
            bins = np.minimum((d / self.dr).astype(int), self.nbins - 1)
            code = (types[i] * ns + types[j]) * self.nbins + bins
            hist = np.bincount(code, minlength=ns * ns * self.nbins).reshape(ns, ns, self.nbins)
            ideal = (np.outer(counts, counts) - np.diag(counts))[:, :, None] / volume * shell
            # an element with a single atom has no distinct same-species pair: g_aa := 1
            self._g_sum += np.divide(hist, ideal, out=np.ones_like(ideal), where=ideal > 0)
            self._density_sum += len(atoms) / volume
            self._n_frames += 1
        return self

    @property
    def species(self):
        """Element symbols, in the order of the partial arrays."""
        self._require_frames()
        return [chemical_symbols[z] for z in self._numbers]

    @property
    def concentrations(self):
        """Atomic fraction c_a of each element: {symbol: c_a}."""
        self._require_frames()
        c = self._counts / self._counts.sum()
        return dict(zip(self.species, c.tolist()))

    @property
    def number_density(self):
        """Mean atomic number density ρ₀ over frames, in Å⁻³."""
        self._require_frames()
        return self._density_sum / self._n_frames

    @property
    def partial_rdfs(self):
        """{(a, b): g_ab(r)} at :attr:`r` for a ≤ b (g_ab = g_ba)."""
        self._require_frames()
        g = self._g_sum / self._n_frames
        s = self.species
        return {(s[x], s[y]): g[x, y] for x in range(len(s)) for y in range(x, len(s))}

    def _weights(self, q):
        """c_a c_b f_a(Q) f_b(Q) / ⟨f²(Q)⟩, shape (n_species, n_species, n_q)."""
        c = np.array(list(self.concentrations.values()))
        q_f = q if self.q_dependent_form_factors else np.zeros_like(q)
        f = np.array([xray_form_factor(s, q_f) for s in self.species])
        cf = c[:, None] * f
        return cf[:, None, :] * cf[None, :, :] / (c[:, None] * f**2).sum(axis=0)

    def structure_factor(self, q):
        """Total X-ray F(Q) on the grid ``q`` (Å⁻¹), normalised by ⟨f²(Q)⟩ (dimensionless)."""
        self._require_frames()
        q = np.asarray(q, dtype=float)
        r = self.r
        window = _lorch(r, np.pi / self.r_max if self.r_window else None)
        kernel = np.sinc(np.outer(q, r) / np.pi)  # sin(Qr)/(Qr)
        h = self._g_sum / self._n_frames - 1.0
        s_minus_1 = 4.0 * np.pi * self.number_density * self.dr * np.einsum(
            "abr,qr->abq", h * (r**2 * window), kernel
        )
        damping = np.exp(-((self.broadening * q) ** 2))
        return damping * np.einsum("abq,abq->q", self._weights(q), s_minus_1)

    def differential_correlation(self, r, q):
        """Model D(r) in Å⁻² at ``r`` from F(Q) on the grid ``q`` (use the experiment's grid)."""
        return differential_correlation(q, self.structure_factor(q), r, self.lorch_width)

    def agreement(self, measured_fq, measured_dr, q_range=(0.0, np.inf), r_range=(0.5, 20.0)):
        """R_w of the model against a measurement.

        Parameters
        ----------
        measured_fq : MeasuredStructureFactor
            From :func:`~aseml_zif.analysis.xray_measurements.read_int01`; R_w on F(Q) is
            weighted by 1/error², over ``q_range`` (Å⁻¹); D(r) always uses the whole measured
            Q grid.
        measured_dr : MeasuredPairDistribution
            From :func:`~aseml_zif.analysis.xray_measurements.read_dofr`; R_w on D(r) is
            unweighted, over ``r_range`` (Å).

        Returns
        -------
        dict
            ``{"r_w_fq": float, "r_w_dr": float}``.
        """
        f_model = self.structure_factor(measured_fq.q)
        in_q = (measured_fq.q >= q_range[0]) & (measured_fq.q <= q_range[1])
        sel = (measured_dr.r >= r_range[0]) & (measured_dr.r <= r_range[1])
        d_model = differential_correlation(measured_fq.q, f_model, measured_dr.r[sel], self.lorch_width)
        return {
            "r_w_fq": r_w(f_model[in_q], measured_fq.f[in_q], measured_fq.error[in_q]),
            "r_w_dr": r_w(d_model, measured_dr.d[sel]),
        }

    def plot(self, measured_fq=None, measured_dr=None, axes=None, q=None, r_plot_max=20.0):
        """Two panels, model vs experiment: Q·F(Q) against Q, and D(r) against r.

        Parameters
        ----------
        measured_fq, measured_dr : optional
            Measurement to overlay; its Q grid is then used for the model.
        axes : pair of matplotlib axes, optional
            Created side by side when omitted.
        q : array_like, optional
            Q grid (Å⁻¹) without a measurement; default 0.5–24 Å⁻¹.
        r_plot_max : float
            Upper r limit of the D(r) panel, Å.

        Returns
        -------
        tuple of matplotlib axes
        """
        import matplotlib.pyplot as plt

        if axes is None:
            axes = plt.figure(figsize=(10, 4)).subplots(1, 2)
        ax_q, ax_r = axes
        if measured_fq is not None:
            q = measured_fq.q
        elif q is None:
            q = np.arange(0.5, 24.0, 0.025)
        r = np.arange(0.0, r_plot_max, 0.02)
        f_model = self.structure_factor(q)
        if measured_fq is not None:
            ax_q.plot(q, q * measured_fq.f, "k-", lw=1, label=f"experiment ({Path(measured_fq.path).stem})")
        ax_q.plot(q, q * f_model, "C3-", lw=1, label="model")
        ax_q.set_xlabel("Q (Å$^{-1}$)")
        ax_q.set_ylabel("Q F(Q) (Å$^{-1}$)")
        if measured_dr is not None:
            keep = measured_dr.r <= r_plot_max
            ax_r.plot(measured_dr.r[keep], measured_dr.d[keep], "k-", lw=1, label="experiment")
        ax_r.plot(r, differential_correlation(q, f_model, r, self.lorch_width), "C3-", lw=1, label="model")
        ax_r.set_xlabel("r (Å)")
        ax_r.set_ylabel("D(r) (Å$^{-2}$)")
        for ax in axes:
            ax.legend(fontsize="small")
        return ax_q, ax_r

    def to_dict(self, q=None):
        """JSON-able results: r (Å), partial g_ab(r), ρ₀, c_a, and F(Q) on ``q`` if given."""
        out = {
            "r": self.r.tolist(),
            "partial_rdfs": {f"{a}-{b}": g.tolist() for (a, b), g in self.partial_rdfs.items()},
            "number_density": self.number_density,
            "concentrations": self.concentrations,
            "n_frames": self.n_frames,
        }
        if q is not None:
            out["q"] = np.asarray(q, dtype=float).tolist()
            out["f_q"] = self.structure_factor(q).tolist()
        return out
