"""Old argument names and result keys keep working, with a DeprecationWarning naming the new one."""
import copy
import json
import pickle
import warnings

import pytest

from aseml_zif._deprecation import RenamedKeys, renamed_argument
from aseml_zif.cli.demo import demo_stages
from aseml_zif.errors import SettingsError


def _function(t_fs=1.0, *, t=None):
    return renamed_argument("f", "t", "t_fs", t, t_fs, new_default=1.0)


def test_renamed_argument():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name alone does not warn
        assert _function(t_fs=2.0) == 2.0 and _function() == 1.0
    with pytest.warns(DeprecationWarning, match=r"f\(t=\) is deprecated, use t_fs=") as record:
        assert _function(t=3.0) == 3.0
    assert record[0].filename == __file__ and record[0].lineno != _function.__code__.co_firstlineno + 1
    with pytest.raises(SettingsError, match="give t_fs= only"), pytest.warns(DeprecationWarning):
        _function(t_fs=2.0, t=3.0)


def test_renamed_keys_read_old_names_and_store_only_new_ones():
    d = RenamedKeys({"total_cm3_per_kg": 5.0, "n": 1}, {"total": "total_cm3_per_kg"}, "pores")
    assert list(d) == ["total_cm3_per_kg", "n"] and len(d) == 2
    assert json.loads(json.dumps(d)) == {"total_cm3_per_kg": 5.0, "n": 1}
    assert d == {"total_cm3_per_kg": 5.0, "n": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert d["n"] == 1 and "n" in d and d.get("missing", 7) == 7
    with pytest.warns(DeprecationWarning, match="pores result key 'total' is deprecated, use 'total_cm3_per_kg'"):
        assert d["total"] == 5.0
    with pytest.warns(DeprecationWarning):
        assert "total" in d and d.get("total") == 5.0
    with pytest.raises(KeyError):
        d["other"]
    for clone in (pickle.loads(pickle.dumps(d)), copy.deepcopy(d), copy.copy(d)):
        with pytest.warns(DeprecationWarning):
            assert clone["total"] == 5.0


def test_demo_stages_old_temperature_names():
    new = demo_stages(400, 0.5, T_max_K=1200.0, T_start_K=350.0)
    with pytest.warns(DeprecationWarning, match=r"demo_stages\(T_max=\) is deprecated, use T_max_K="):
        with pytest.warns(DeprecationWarning, match="use T_start_K="):
            old = demo_stages(400, 0.5, T_max=1200.0, T_start=350.0)
    assert old == new and new[1].temperature_K == 1200.0 and new[-1].temperature_K == 350.0
