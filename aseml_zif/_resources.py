"""Locate files shipped in the project's top-level ``data/`` folder.

In a source checkout (``pip install -e .``) they are read from ``<repo>/data``; a regular
install copies them to ``<prefix>/share/aseml_zif`` (``[options.data_files]`` in setup.cfg).
"""
import sys
from pathlib import Path

from .errors import AsemlZifError

_CANDIDATES = (
    Path(__file__).resolve().parent.parent / "data",
    Path(sys.prefix) / "share" / "aseml_zif",
)


def resource_path(name):
    """Return the path of the shipped data file ``name``.

    Raises
    ------
    AsemlZifError
        If the file is in none of the known locations (broken installation).
    """
    for folder in _CANDIDATES:
        path = folder / name
        if path.exists():
            return path
    raise AsemlZifError(
        f"data file {name!r} not found in {', '.join(str(c) for c in _CANDIDATES)}; "
        "reinstall aseml_zif"
    )
