"""The CP2K set-up reproduces the paper's reference method (checked on ASE's generated input)."""
from types import SimpleNamespace

from ase.calculators.calculator import Parameters
from ase.calculators.cp2k import CP2K

from aseml_zif.data.cp2k_setup import cp2k_settings
from aseml_zif.structures import zif4_crystal


def _generated_input():
    settings = cp2k_settings("zif4")
    parameters = Parameters({**CP2K.default_parameters, **settings})
    fake = SimpleNamespace(parameters=parameters, label="zif4", atoms=zif4_crystal(), _shell=None)
    return CP2K._generate_input(fake)


def test_reference_method_in_generated_input():
    text = _generated_input()
    words = [" ".join(line.split()) for line in text.splitlines()]
    for expected in ["CUTOFF 600", "REL_CUTOFF 40", "EPS_SCF 1.0E-5", "TYPE DFTD3",
                     "R_CUTOFF 16.0", "REFERENCE_FUNCTIONAL PBE", "&XC_FUNCTIONAL PBE",
                     "BASIS_SET DZVP-MOLOPT-SR-GTH", "POTENTIAL GTH-PBE-q12",
                     "POTENTIAL GTH-PBE-q1", "MASS 2.014101777", "STRESS_TENSOR ANALYTICAL",
                     "PERIODIC XYZ"]:
        assert expected in words, expected
    # ASE adds no basis set, pseudopotential or cut-off of its own
    assert sum(w.startswith("BASIS_SET ") for w in words) == 4
    assert sum(w.startswith("POTENTIAL ") for w in words) == 4
    assert not any(w.startswith("CUTOFF [eV]") for w in words)
    # 272 atoms in &COORD plus the cell vector line "C ..."
    assert sum(w.startswith(("Zn ", "C ", "H ", "N ")) for w in words) == 272 + 1
