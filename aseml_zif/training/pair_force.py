"""A loss/metric field for the pair force of one element pair at a window of distances.

For an A–B pair (atom i of element A, atom j of element B, u the unit vector from i to j with
the periodic shift of the neighbour-list edge), the pair force is
``p = (F_j - F_i) · u / 2`` in eV/Å: negative when the forces pull the pair together. The
fast student over-attracts non-bonded Zn–N pairs at 2.2–3.2 Å; a force MSE over all
3N components barely sees that one component, an MSE of p over those pairs does.
"""
import torch
from nequip.data import AtomicDataDict
from nequip.data.modifier import BaseModifier
from nequip.train import MeanSquaredError
from nequip.utils.global_dtype import _GLOBAL_DTYPE

__all__ = ["PairForceModifier", "MeanSquaredErrorOrZero"]


class PairForceModifier(BaseModifier):
    """nequip field modifier: the pair force ``p`` of every A–B edge in a distance window.

    Used as the ``field`` of a ``nequip.train.MetricsManager`` entry, ``field(preds, target)``
    returns ``(p_pred, p_target)``: 1-D tensors over the same pairs, selected (species and
    length) and oriented on the *target* dict, i.e. the batch as loaded with its precomputed
    neighbour list (``edge_index``, ``edge_cell_shift``, ``cell``, ``batch``, ``atom_types``,
    ``pos``); only ``forces`` is read from ``preds``. Each unordered pair (a given image) is
    counted once: the neighbour list holds both directions, the A -> B one is kept (for A = B,
    the one with i < j, or for an atom and its own image the positive cell shift).

    Parameters
    ----------
    type_names : list of str
        The model's type names, in ``atom_types`` order (``${model_type_names}`` in a config).
    pair : (str, str)
        Elements A and B; u points from A to B.
    r_min, r_max : float
        Window of pair distances in Å (both included).
    """

    def __init__(self, type_names, pair=("Zn", "N"), r_min=2.2, r_max=3.2):
        super().__init__(AtomicDataDict.FORCE_KEY)
        type_names, self.pair = list(type_names), tuple(pair)
        missing = [e for e in self.pair if e not in type_names]
        if len(self.pair) != 2 or missing:
            raise ValueError(f"pair {self.pair!r}: two of the type names {type_names}")
        if not 0.0 <= float(r_min) < float(r_max):
            raise ValueError(f"window {r_min}-{r_max} Å: need 0 <= r_min < r_max")
        self.types = tuple(type_names.index(e) for e in self.pair)
        self.r_min, self.r_max = float(r_min), float(r_max)

    def pairs(self, data):
        """The selected pairs of ``data``: ``(i, j, u)``, atom indices (A, B) and unit vectors."""
        i, j = data[AtomicDataDict.EDGE_INDEX_KEY]
        pos = data[AtomicDataDict.POSITIONS_KEY].detach()
        vec = pos[j] - pos[i]
        if AtomicDataDict.CELL_KEY in data and AtomicDataDict.EDGE_CELL_SHIFT_KEY in data:
            shift = data[AtomicDataDict.EDGE_CELL_SHIFT_KEY]
            cell = data[AtomicDataDict.CELL_KEY].detach().view(-1, 3, 3)
            graph = (data[AtomicDataDict.BATCH_KEY][i] if AtomicDataDict.BATCH_KEY in data
                     else torch.zeros_like(i))  # a single frame: cell (1, 3, 3)
            vec = vec + torch.einsum("ek,ekl->el", shift.to(vec.dtype), cell[graph].to(vec.dtype))
        length = vec.norm(dim=-1)
        types = data[AtomicDataDict.ATOM_TYPE_KEY].view(-1)
        keep = ((types[i] == self.types[0]) & (types[j] == self.types[1])
                & (length >= self.r_min) & (length <= self.r_max))
        if self.types[0] == self.types[1]:  # both directions are A -> B: keep one
            s = data.get(AtomicDataDict.EDGE_CELL_SHIFT_KEY, torch.zeros_like(vec))
            first = (s[:, 0] > 0) | ((s[:, 0] == 0) & ((s[:, 1] > 0)
                                                        | ((s[:, 1] == 0) & (s[:, 2] > 0))))
            keep = keep & ((i < j) | ((i == j) & first))  # an atom and its image: shift > 0
        return i[keep], j[keep], vec[keep] / length[keep].unsqueeze(-1)

    @staticmethod
    def project(forces, i, j, u):
        """``p = (F_j - F_i) · u / 2`` (eV/Å), one value per pair."""
        return ((forces[j] - forces[i]) * u.to(forces.dtype)).sum(-1) / 2

    def __call__(self, data1, data2=None):
        """``p`` of ``data1`` (its own pairs), or ``(p_pred, p_target)`` on ``data2``'s pairs."""
        i, j, u = self.pairs(data1 if data2 is None else data2)
        p1 = self.project(data1[AtomicDataDict.FORCE_KEY], i, j, u)
        if data2 is None:
            return p1
        return p1, self.project(data2[AtomicDataDict.FORCE_KEY], i, j, u)

    def __str__(self):
        return f"{self.pair[0]}{self.pair[1]}_pair_force"

    @property
    def type(self):
        """``"edge"``: one value per selected pair (so not usable with ``per_type``)."""
        return "edge"


class MeanSquaredErrorOrZero(MeanSquaredError):
    """nequip's ``MeanSquaredError``, but 0 rather than 0/0 = NaN over no values: a loss term on
    a batch without selected pairs contributes nothing instead of turning the loss into NaN."""

    def compute(self):
        if not torch.is_nonzero(self.count):
            return torch.zeros((), dtype=_GLOBAL_DTYPE, device=self.count.device)
        return super().compute()
