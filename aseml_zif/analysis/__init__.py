"""Structural analysis of ZIF structures and trajectories (periodic, triclinic-safe).

Analysis objects follow freud's pattern: configure in ``__init__``, accumulate frames with
``compute(frames)``, read results from properties, ``plot(ax=None)``, ``to_dict()`` for JSON.
``frames`` is always one ``Atoms``, a list of them, or a trajectory path.
"""
from .._lazy import lazy_exports

# public name -> module that defines it (imported on first use)
_EXPORTS = {
    "as_frame_list": "frames",
    "RDF": "rdf",
    "potential_of_mean_force": "rdf",
    "BondAngles": "angles",
    "Coordination": "coordination",
    "MSD": "msd",
    "find_linkers": "linkers",
    "RingStatistics": "rings",
    "pore_volume": "pores",
    "analyze": "report",
    "XRayScattering": "scattering",
    "read_int01": "xray_measurements",
    "read_dofr": "xray_measurements",
    "r_w": "xray_measurements",
    "xray_form_factor": "xray_form_factors",
    "differential_correlation": "xray_transforms",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
