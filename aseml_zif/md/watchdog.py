"""Live sanity checks of an MD run: broken linkers, atom collisions, runaway heating.

Castel et al. (2024) found that Allegro potentials break imidazolate linkers above ~1300 K; the
watchdog makes such failures visible while the run goes instead of after it. In a run, a linker
counts as broken once it has stayed broken for ``linker_confirm_fs``: at 1500 K an H of one
linker can pass within the 1.6 Å C–H bond criterion of another linker's C for a few fs, or a
ring bond can stretch past 1.8 Å, and come back: continued without the watchdog, 10 of 11 stops
of the fast students at 1500 K healed within 2.5–30 fs, and the paper's model, continued from
four of them, healed each and took a ring bond past 1.8 Å itself
(``data/fast_model/watchdog/stops_continued.json``).
Non-finite positions and model outputs are checked by :func:`aseml_zif.md.run` at every step,
watchdog or not.
"""
from dataclasses import dataclass, field

import numpy as np

from ..errors import SettingsError, WatchdogError
from ..neighbors import neighbor_list
from ..verlet import VerletList

__all__ = ["Watchdog"]


#: atomic numbers of Zn, N and C
_ZIF_ELEMENTS = {30, 7, 6}


def _is_zif(atoms):
    return _ZIF_ELEMENTS <= set(np.unique(atoms.numbers).tolist())


def _describe_linker(entry):
    atoms = ", ".join(str(i) for i in entry.atoms)
    return f"{entry.formula} fragment (atoms {atoms}): {entry.problem}"


@dataclass
class Watchdog:
    """Checks run at the start, every ``every`` MD steps and before every checkpoint.

    Parameters
    ----------
    every : int
        Check interval in MD steps.
    min_distance : float
        Smallest allowed distance between any two atoms, in Å.
    max_temperature_ratio, runaway_margin_K : float
        Temperature runaway when ``T > max(ratio * T_target, T_target + margin)`` (K).
    check_linkers : bool or None
        Check imidazolate linkers with :func:`aseml_zif.analysis.find_linkers` and fail when
        one is broken; ``None`` does so only if the system contains Zn, N and C. The full
        analysis is skipped while the organic bonds are those of the last frame found intact.
    linker_confirm_fs : float
        In a run (checks given ``time_fs``): a newly broken linker is a problem only once it
        has been found broken at every check for this long (fs); one check that finds the
        linkers intact clears it. 0 judges every frame alone.
    action : {"raise", "log"}
        Stop the run with :class:`WatchdogError`, or only warn and carry on.
    """

    every: int = 10
    min_distance: float = 0.5
    max_temperature_ratio: float = 2.0
    runaway_margin_K: float = 500.0
    check_linkers: bool = None
    linker_confirm_fs: float = 100.0
    action: str = "raise"
    # atomic numbers and sorted organic bond keys (bytes) of the last frame whose linkers were
    # all intact
    _intact_bonds: tuple = field(default=None, init=False, repr=False, compare=False)
    # time (fs) of the first of the checks, all since, that found a break not yet confirmed
    _broken_since_fs: float = field(default=None, init=False, repr=False, compare=False)
    # the pairs of the checks, reused from one check to the next
    _pairs: VerletList = field(default=None, init=False, repr=False, compare=False)
    # atomic numbers (bytes), whether a ZIF, element codes and bond cut-offs (_rules_of)
    _rules: tuple = field(default=None, init=False, repr=False, compare=False)
    # pair list, its generation, atomic numbers (bytes), bond cut-off and key of every
    # candidate pair (_candidate_bonds)
    _bond_rules: tuple = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.action not in ("raise", "log"):
            raise SettingsError(f"watchdog action must be 'raise' or 'log', got {self.action!r}")
        if self.every < 1:
            raise SettingsError(f"watchdog interval must be >= 1 step, got {self.every}")
        if not self.linker_confirm_fs >= 0:
            raise SettingsError(f"linker_confirm_fs must be >= 0 fs, got {self.linker_confirm_fs}")

    @property
    def pending_since_fs(self):
        """Time (fs) since which a broken linker waits for confirmation; None if none does."""
        return self._broken_since_fs

    def linkers_checked(self, atoms):
        """Whether linker integrity is checked for this system."""
        return self._rules_of(atoms)[1] if self.check_linkers is None else bool(self.check_linkers)

    def check(self, atoms, target_temperature_K, known_broken=0, time_fs=None):
        """Return a list of problems (empty if all is well) and the number of broken linkers.

        Parameters
        ----------
        atoms : ase.Atoms
            Current state, with calculator results.
        target_temperature_K : float
            Thermostat target in K.
        known_broken : int
            Broken linkers already reported (in ``action="log"`` mode); only more are a problem.
        time_fs : float, optional
            Simulated time of this check (fs): more broken linkers are then a problem only once
            confirmed (``linker_confirm_fs``), and count in the returned number from then on.
            None judges this frame alone.
        """
        problems = []
        temperature = atoms.get_temperature()
        limit = max(self.max_temperature_ratio * target_temperature_K,
                    target_temperature_K + self.runaway_margin_K)
        if temperature > limit:
            problems.append(
                f"temperature runaway: T = {temperature:.0f} K > {limit:.0f} K "
                f"(target {target_temperature_K:.0f} K)"
            )
        from ..analysis.linkers import ZN_N_CUTOFF

        # one neighbour list for both checks, out to the linker check's longest bond (Zn–N), and
        # never much shorter: vesin takes ~6 ms at 0.5 Å but 0.3 ms at 2.5 Å (272 atoms); a
        # Verlet list with a 2 Å skin gives the same pairs in ~0.1 ms when checks are 10 steps
        # apart (rebuilt every ~400 steps at 300 K; with a 1 Å skin every ~50). Each pair once:
        # the full list (both directions) only to name atoms too close.
        cutoff = max(self.min_distance, ZN_N_CUTOFF)
        if self._pairs is None or self._pairs.cutoff != cutoff:
            self._pairs = VerletList(cutoff, skin=2.0, shell=2.0)
        keep = self._pairs.within(atoms)
        d = self._pairs.distances(atoms, keep)
        if (d < self.min_distance).any():
            problems.append(self._too_close(atoms))
        broken = known_broken
        if self.linkers_checked(atoms):
            report = self._linker_report(atoms, keep, d)
            broken = 0 if report is None else len(report.broken)
            if broken <= known_broken:
                self._broken_since_fs = None
            else:
                lasted = self._confirmed_for(time_fs)
                if lasted is None:
                    broken = known_broken  # not (yet) confirmed
                else:
                    problems.append(
                        f"{broken} broken linker(s){lasted}, {report.n_intact} intact: "
                        + "; ".join(_describe_linker(e) for e in report.broken)
                    )
        return problems, broken

    def _confirmed_for(self, time_fs):
        """A break found at ``time_fs``: None while it waits for confirmation; once confirmed,
        the words saying since when it lasted (``""`` when judged alone)."""
        if time_fs is None or self.linker_confirm_fs == 0:
            self._broken_since_fs = None
            return ""
        if self._broken_since_fs is None or time_fs < self._broken_since_fs:  # new, or resumed
            self._broken_since_fs = time_fs
        lasted = time_fs - self._broken_since_fs
        if lasted < self.linker_confirm_fs:
            return None
        since, self._broken_since_fs = self._broken_since_fs, None
        return f" for {lasted:.1f} fs (every check since t = {since:.1f} fs)"

    def _too_close(self, atoms):
        """The problem of atoms closer than ``min_distance``, naming the closest pair."""
        i, j, d = self._pairs.compute(atoms, "ijd")
        close = np.flatnonzero(d < self.min_distance)
        k = close[np.lexsort((j[close], i[close], d[close]))[0]]  # closest, lowest i first
        symbols = atoms.get_chemical_symbols()
        return (f"atoms too close: {symbols[i[k]]}{i[k]}–{symbols[j[k]]}{j[k]} at {d[k]:.3f} Å "
                f"< {self.min_distance} Å ({len(close) // 2} pair(s))")

    def _linker_report(self, atoms, keep, d):
        """:func:`~aseml_zif.analysis.find_linkers` of ``atoms``, or None when its organic bonds
        (among the candidates ``keep`` of the pair list, at distances ``d``) are those of the
        last frame found intact (then so are its linkers)."""
        from ..analysis.linkers import find_linkers

        numbers, limits, keys = self._candidate_bonds(atoms)
        # keys of the candidates ascend with their index (sorted by i, then j): those of the
        # bonds come sorted
        bonds = (numbers, keys.take(keep)[d < limits.take(keep)].tobytes())
        if bonds == self._intact_bonds:
            return None
        # the full analysis from a fresh list: its report does not depend on the Verlet list
        report = find_linkers(atoms, neighbors=neighbor_list(atoms, self._pairs.cutoff, "ijSd"))
        if not report.broken:
            self._intact_bonds = bonds
        return report

    def _candidate_bonds(self, atoms):
        """Atomic numbers (bytes), and the organic bond cut-off (Å; −inf: never a bond) and key
        ``i * len(atoms) + j`` of every candidate pair ``i, j`` of the pair list: made again
        when the candidates or the atomic numbers change."""
        from ..analysis.linker_bonds import _organic_bond_limits

        numbers, _, codes, table = self._rules_of(atoms)
        pairs = self._pairs
        cached = self._bond_rules
        if (cached is None or cached[0] is not pairs or cached[1] != pairs.generation
                or cached[2] != numbers):
            i, j = pairs.candidates[0]
            cached = self._bond_rules = (pairs, pairs.generation, numbers,
                                         _organic_bond_limits(codes, table, i, j), i * len(atoms) + j)
        return cached[2:]

    def _rules_of(self, atoms):
        """Atomic numbers (bytes), whether they make a ZIF, the element codes and the cut-off
        table of :func:`~aseml_zif.analysis.linkers.find_linkers`'s organic bonds: kept while
        the atomic numbers stay."""
        from ..analysis.linker_bonds import ZN_N_CUTOFF, _cutoff_table, _element_codes

        numbers = atoms.numbers.tobytes()
        if self._rules is None or self._rules[0] != numbers:
            self._rules = (numbers, _is_zif(atoms), _element_codes(atoms, "Zn"),
                           _cutoff_table(None, ZN_N_CUTOFF))
        return self._rules
