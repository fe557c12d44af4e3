"""Bulk modulus of ZIF-4 by finite strain difference: NVT at scaled volumes, then a
Birch–Murnaghan fit of the time-averaged pressures (paper Sec. 2.4, Table 2, Fig. S8).

    python examples/pv_fit.py --model demo --steps 20000        # or the paper's model on a GPU

The paper ramps ±1.5 % over 100 ps and equilibrates 100 ps per volume; the defaults here are
shorter. ``--quick`` (or ASEML_ZIF_EXAMPLE_QUICK=1) runs 3 volumes (±3 %) × 2 steps at
5 K (a smoke test of the pipeline, not a modulus).
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from aseml_zif import load_potential  # noqa: E402
from aseml_zif.io import read_structure  # noqa: E402
from aseml_zif.mechanics import volume_scan  # noqa: E402
from aseml_zif.structures import zif4_crystal  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--model", default="demo", help="'demo' or a deployed model file")
parser.add_argument("--structure", default=None, help="structure file (default: the ZIF-4 crystal)")
parser.add_argument("--temperature", type=float, default=300.0, help="K")
parser.add_argument("--steps", type=int, default=4000, help="sampled steps per volume (1 fs)")
parser.add_argument("--out", default="pv_fit.png", help="figure")
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("ASEML_ZIF_EXAMPLE_QUICK")))
args = parser.parse_args()

atoms = read_structure(args.structure) if args.structure else zif4_crystal()
atoms.calc = load_potential(args.model)
if args.quick:  # 2 steps at 5 K: pressures stay near the static ones, which a fit can take
    scan = volume_scan(atoms, 5.0, volume_strains=[-0.03, 0.0, 0.03], n_steps=2,
                       n_equilibration=0, interval=1, n_blocks=2, seed=0)
else:
    scan = volume_scan(atoms, args.temperature, volume_strains=np.linspace(-0.015, 0.015, 7),
                       n_steps=args.steps, n_equilibration=args.steps // 2, seed=0)
for v, p, e in zip(scan.volumes_A3, scan.pressures_GPa, scan.pressure_errors_GPa):
    print(f"V = {v:8.1f} Å³   P = {p:+.3f} ± {e:.3f} GPa")
fit = scan.fit(order=2, select=not args.quick)
rho, rho_err = fit.density_g_cm3(scan.mass_amu)
print(f"K0 = {fit.K0_GPa:.2f} ± {fit.K0_GPa_err:.2f} GPa, V0 = {fit.V0_A3:.0f} Å³, "
      f"ρ0 = {rho:.3f} ± {rho_err:.3f} g/cm³")
fig, ax = plt.subplots()
fit.plot(ax=ax)
fig.savefig(args.out, dpi=150)
print(f"wrote {args.out}")
