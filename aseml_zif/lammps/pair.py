"""``pair_style`` / ``pair_coeff`` commands of a deployed NequIP or Allegro model.

``pair_style nequip`` needs ``newton off``; ``pair_style allegro`` needs ``newton on`` (as in
mir-group's pair_nequip_allegro; the paper's input, Castel et al. 2024, uses ``newton off`` with
``pair_style nequip``). ``pair_coeff * * model.pth E1 E2 ...`` lists the element of every
LAMMPS atom type in type order; the model maps elements to its own types by name.
"""
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import StructureError, UnknownSpeciesError

__all__ = ["PairSpec", "model_pair"]


@dataclass(frozen=True)
class PairSpec:
    """A LAMMPS interaction: style, coefficients, ``newton`` setting and type order.

    Attributes
    ----------
    style : str
        Argument of ``pair_style`` (e.g. ``"nequip"``, ``"lj/cut 8.5"``).
    coeffs : tuple of str
        Arguments of each ``pair_coeff`` line.
    newton : str
        ``"on"`` or ``"off"``.
    elements : tuple of str
        Element of LAMMPS type 1, 2, ...
    extra : tuple of str
        Further commands after ``pair_coeff`` (e.g. ``"pair_modify shift yes"``).
    """

    style: str
    coeffs: tuple
    newton: str
    elements: tuple
    extra: tuple = ()

    @property
    def style_name(self):
        """First word of the style (what ``has_style`` is asked about)."""
        return self.style.split()[0]

    def check_species(self, atoms):
        """Raise :class:`StructureError` if ``atoms`` holds an element with no LAMMPS type."""
        missing = sorted(set(atoms.get_chemical_symbols()) - set(self.elements))
        if missing:
            raise StructureError(
                f"element(s) {', '.join(missing)} have no LAMMPS type "
                f"(types: {' '.join(self.elements)})"
            )

    def commands(self):
        """``pair_style``, ``pair_coeff`` and extra command lines."""
        return ([f"pair_style {self.style}"] + [f"pair_coeff {c}" for c in self.coeffs]
                + list(self.extra))


@lru_cache(maxsize=8)
def _metadata(path, mtime_ns, size):
    """Model metadata, read once per file version (loading a model takes seconds)."""
    from ..calculator import read_model_metadata

    return read_model_metadata(path)


def model_pair(model_path, elements=None, model_name=None):
    """:class:`PairSpec` of a deployed model, read from its metadata.

    Parameters
    ----------
    model_path : path-like
        Deployed model (``nequip-deploy`` TorchScript file).
    elements : sequence of str, optional
        Element of each LAMMPS type in type order; default: the model's ``type_names``.
    model_name : str, optional
        How ``pair_coeff`` names the model file (default: its absolute path); a job folder
        refers to it by its file name.
    """
    path = Path(model_path)
    stat = path.stat() if path.is_file() else None
    meta = _metadata(str(path), stat and stat.st_mtime_ns, stat and stat.st_size)
    elements = tuple(elements) if elements is not None else tuple(meta.type_names)
    unknown = sorted(set(elements) - set(meta.type_names))
    if unknown:
        raise UnknownSpeciesError(
            f"element(s) {', '.join(unknown)} not known to the model {Path(model_path).name} "
            f"(type_names: {' '.join(meta.type_names)})"
        )
    name = model_name or str(Path(model_path).resolve())
    style = meta.architecture  # "nequip" or "allegro"
    return PairSpec(
        style=style,
        coeffs=(f"* * {name} {' '.join(elements)}",),
        newton="off" if style == "nequip" else "on",
        elements=elements,
    )
