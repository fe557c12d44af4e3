"""Old names of arguments and result keys, still accepted with a :class:`DeprecationWarning`."""
import warnings

from .errors import SettingsError

__all__ = ["renamed_argument", "RenamedKeys"]


def renamed_argument(where, old, new, old_value, new_value, new_default=None):
    """Value of argument ``new`` of ``where``, also accepted under its deprecated name ``old``.

    Parameters
    ----------
    where : str
        Function or class, for the messages (e.g. ``"melt_quench"``).
    old, new : str
        Old and new argument names.
    old_value : object or None
        Value received under the old name (``None``: not given).
    new_value : object
        Value received under the new name.
    new_default : object
        Default of the new argument: a ``new_value`` other than this counts as given.

    Returns
    -------
    object
        ``old_value`` when given (after a :class:`DeprecationWarning` naming ``new``), else
        ``new_value``.

    Raises
    ------
    SettingsError
        Both names given.
    """
    if old_value is None:
        return new_value
    warnings.warn(f"{where}({old}=) is deprecated, use {new}=", DeprecationWarning, stacklevel=3)
    if new_value is not None and new_value != new_default:
        raise SettingsError(f"{where}: give {new}= only, not also its deprecated name {old}=")
    return old_value


class RenamedKeys(dict):
    """A result ``dict`` whose renamed keys still read under their old names, with a warning.

    Only the new keys are stored (iteration, ``len``, JSON output and ``==`` see those);
    ``d[old]``, ``d.get(old)`` and ``old in d`` warn with a :class:`DeprecationWarning` naming
    the new key and answer for it.

    Parameters
    ----------
    data : mapping
        The result, under its new keys.
    renames : dict
        Old key -> new key.
    where : str
        Producer of the result, for the messages (e.g. ``"pore_volume"``).
    """

    def __init__(self, data, renames, where):
        super().__init__(data)
        self._renames = dict(renames)
        self._where = where

    def _new_key(self, key):
        if isinstance(key, str) and key in self._renames and not dict.__contains__(self, key):
            new = self._renames[key]
            warnings.warn(f"{self._where} result key {key!r} is deprecated, use {new!r}",
                          DeprecationWarning, stacklevel=3)
            return new
        return key

    def __getitem__(self, key):
        return dict.__getitem__(self, self._new_key(key))

    def get(self, key, default=None):
        return dict.get(self, self._new_key(key), default)

    def __contains__(self, key):
        return dict.__contains__(self, self._new_key(key))

    def __reduce__(self):
        return (type(self), (dict(self), self._renames, self._where))
