"""Every exception type lives in aseml_zif.errors, derives from AsemlZifError, and the modules
that raise one still export it under its old import path."""
import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import aseml_zif
from aseml_zif import errors
from aseml_zif.errors import AsemlZifError, SettingsError

PACKAGE = Path(aseml_zif.__file__).parent

#: old import path -> names it must still provide (the modules that defined them before)
OLD_PATHS = {
    "aseml_zif.training.config": ["ConfigError"],
    "aseml_zif.training.runner": ["TrainingError"],
    "aseml_zif.training.fetch": ["FetchError"],
    "aseml_zif.md": ["StageError", "WatchdogError", "CheckpointError"],
    "aseml_zif.md.stages": ["StageError"],
    "aseml_zif.md.watchdog": ["WatchdogError"],
    "aseml_zif.md.checkpoint": ["CheckpointError"],
    "aseml_zif.data.labelling": ["LabellingError"],
    "aseml_zif.data.cp2k": ["Cp2kFormatError"],
    "aseml_zif.mechanics": ["MechanicsError", "MechanicalInstabilityError"],
    "aseml_zif.mechanics.errors": ["MechanicsError", "MechanicalInstabilityError"],
    "aseml_zif.analysis.pores": ["PoreVolumeError"],
    "aseml_zif.analysis.rings": ["RingSearchError"],
    "aseml_zif.analysis.scattering": ["DataFileError"],
    "aseml_zif.lammps.library": ["LammpsError", "LammpsStyleError"],
}


def _package_modules():
    names = ["aseml_zif"]
    for info in pkgutil.walk_packages(aseml_zif.__path__, "aseml_zif."):
        if not info.name.endswith("__main__"):  # running it would start the CLI
            names.append(info.name)
    return names


def test_every_exception_class_is_defined_in_errors():
    found = {}
    for name in _package_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__.startswith("aseml_zif")):
                found.setdefault(value, []).append(f"{name}.{attr}")
    assert len(found) >= 20  # the walk did reach the modules that raise them
    elsewhere = {cls.__qualname__: cls.__module__ for cls in found if cls.__module__ != errors.__name__}
    assert not elsewhere, f"exception classes defined outside aseml_zif.errors: {elsewhere}"
    not_ours = [cls.__name__ for cls in found if not issubclass(cls, AsemlZifError)]
    assert not not_ours, f"not AsemlZifError subclasses: {not_ours}"
    assert set(errors.__all__) == {cls.__name__ for cls in found}


#: bases whose names end like an exception's but that are not exceptions
NOT_EXCEPTIONS = {"MeanSquaredError": "nequip.train"}  # a torchmetrics metric


def test_names_allowed_as_bases_are_not_exceptions():
    for name, module in NOT_EXCEPTIONS.items():
        assert not issubclass(getattr(importlib.import_module(module), name), BaseException)


def test_no_exception_class_statement_outside_errors_module():
    """Also catches classes defined inside functions, which importing does not reveal."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b) for b in node.bases]
                if any(b.endswith(("Error", "Exception", "Warning")) and b not in NOT_EXCEPTIONS
                       for b in bases):
                    offenders.append(f"{path.relative_to(PACKAGE)}: class {node.name}({', '.join(bases)})")
    assert not offenders, offenders


@pytest.mark.parametrize("module_name", sorted(OLD_PATHS))
def test_old_import_paths_give_the_same_classes(module_name):
    module = importlib.import_module(module_name)
    for name in OLD_PATHS[module_name]:
        assert getattr(module, name) is getattr(errors, name)


def test_hierarchy_kept_and_settings_errors_are_value_errors():
    e = errors
    assert issubclass(e.UnknownSpeciesError, e.StructureError)
    assert issubclass(e.FetchError, e.ModelError)
    assert issubclass(e.Cp2kFormatError, e.StructureError)
    assert issubclass(e.MechanicalInstabilityError, e.MechanicsError)
    assert issubclass(e.LammpsStyleError, e.LammpsError)
    for cls in (e.SettingsError, e.ConfigError, e.StageError, e.RingSearchError,
                e.MechanicsError, e.StructureError, e.DataFileError):
        assert issubclass(cls, ValueError), cls
    for cls in (e.ConfigError, e.StageError, e.RingSearchError):
        assert issubclass(cls, SettingsError), cls
    # runtime failures are not ValueError: a caller's "except ValueError" must not swallow them
    for cls in (e.ModelError, e.TrainingError, e.CheckpointError, e.WatchdogError,
                e.LammpsError, e.PoreVolumeError):
        assert not issubclass(cls, ValueError), cls
    stop = e.WatchdogError("stopped", step=7, temperature_K=2100.0, problems=["hot"])
    assert (stop.step, stop.temperature_K, stop.problems, str(stop)) == (7, 2100.0, ["hot"], "stopped")


def test_bad_analysis_and_watchdog_settings_raise_value_errors():
    from aseml_zif.analysis import MSD, RDF, BondAngles, Coordination
    from aseml_zif.analysis.scattering import XRayScattering, r_w
    from aseml_zif.md import Watchdog

    for make in (lambda: Coordination(cutoff=-1.0), lambda: BondAngles(bins=0),
                 lambda: RDF(r_max=0.0), lambda: RDF(pair=("Zn",)), lambda: MSD(0.0),
                 lambda: MSD(1.0, max_lag=0), lambda: XRayScattering(dr=-0.1),
                 lambda: Watchdog(every=0), lambda: Watchdog(action="ignore"),
                 lambda: r_w([1.0, 2.0], [1.0])):
        with pytest.raises(SettingsError):
            make()
