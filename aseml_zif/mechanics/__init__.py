"""Mechanical properties of ZIF models (Castel et al., Digital Discovery 3, 355 (2024), §2.4).

* Finite strain difference: :func:`volume_scan` (NVT at scaled volumes, block-averaged
  pressures) and :func:`fit_birch_murnaghan` → K0, V0, ρ0 with uncertainties (Table 2, Fig. S8).
* Strain fluctuations: :func:`sample_cells` (flexible-cell NσT with a verified integrator),
  :func:`stiffness_from_cell_fluctuations` → 6×6 C (GPa), :func:`running_stiffness`,
  :func:`bulk_modulus_from_volume_fluctuations`.
* Tensor analysis as ELATE: :func:`elastic_moduli` (Voigt/Reuss/Hill K, G, E, ν, eigenvalues,
  directional extrema) (Table 3); 0 K reference: :func:`stiffness_from_finite_differences`.
* Several models: :func:`mean_std_over_models` (mean ± standard deviation, Tables 2 and 3).
"""
from .averages import block_average, format_mean_std, mean_std_over_models
from .elastic import (
    compliance_tensor,
    directional_linear_compressibility,
    directional_young_modulus,
    elastic_moduli,
)
from .eos import BirchMurnaghanFit, birch_murnaghan_pressure, fit_birch_murnaghan, well_behaved_region
from .errors import MechanicalInstabilityError, MechanicsError
from .fluctuations import (
    RunningStiffness,
    bulk_modulus_from_volume_fluctuations,
    running_stiffness,
    stiffness_error_from_blocks,
    stiffness_from_cell_fluctuations,
    voigt_strains,
)
from .sampling import NSIGMAT_INTEGRATORS, CellSamples, VolumeScan, sample_cells, volume_scan
from .static import stiffness_from_finite_differences

__all__ = [
    "BirchMurnaghanFit",
    "CellSamples",
    "MechanicalInstabilityError",
    "MechanicsError",
    "NSIGMAT_INTEGRATORS",
    "RunningStiffness",
    "VolumeScan",
    "birch_murnaghan_pressure",
    "block_average",
    "bulk_modulus_from_volume_fluctuations",
    "compliance_tensor",
    "directional_linear_compressibility",
    "directional_young_modulus",
    "elastic_moduli",
    "fit_birch_murnaghan",
    "format_mean_std",
    "mean_std_over_models",
    "running_stiffness",
    "sample_cells",
    "stiffness_error_from_blocks",
    "stiffness_from_cell_fluctuations",
    "stiffness_from_finite_differences",
    "voigt_strains",
    "volume_scan",
    "well_behaved_region",
]
