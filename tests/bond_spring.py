"""A harmonic spring between two atoms and nothing else: a bond that swings past the linker bond
criteria and back, for the watchdog and snapshot-continuation tests."""
import numpy as np
from ase.calculators.calculator import Calculator, all_changes


class Spring(Calculator):
    """``E = k (r - r0)² / 2`` (eV) between atoms ``a`` and ``b`` (minimum image; ``k`` in
    eV/Å², ``r0`` in Å); zero force on every other atom."""

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, a, b, k, r0):
        super().__init__()
        self.a, self.b, self.k, self.r0 = a, b, k, r0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        d = self.atoms.get_distance(self.a, self.b, mic=True, vector=True)
        r = np.linalg.norm(d)
        forces = np.zeros((len(self.atoms), 3))
        forces[self.b] = -self.k * (r - self.r0) * d / r
        forces[self.a] = -forces[self.b]
        energy = 0.5 * self.k * (r - self.r0) ** 2
        self.results = {"energy": energy, "free_energy": energy, "forces": forces}
