"""Local paracrine action (local): MSCs inside the patch secrete and calm the microglia they touch.

Each tissue MSC releases TGF-β, BDNF and GDNF into its voxel (`msc.tgfb`, `msc.bdnf`, `msc.gdnf`; rates are
assumptions: the conditioned-medium concentrations of Gu et al. 2012 Neurol Res,
doi:10.1179/1743132811Y.0000000068, give no per-cell rate) and no IL-10 (MSCs make none; the IL-10 in
co-cultures comes from monocytes: Melief et al. 2013 Haematologica 98:888, doi:10.3324/haematol.2012.078055),
and adds `msc.paracrine_weight` to the protective push of every microglial cell within
`microglia.contact_radius_um` (MSC PGE2 makes macrophages produce IL-10: Németh et al. 2009 Nat Med 15:42,
doi:10.1038/nm.1905; the magnitude is an assumption).

Acts only through MSCs that homed into the patch: after IV infusion that is almost none (`homing`).
"""
from __future__ import annotations

import numpy as np

from sim.fields import FIELD_INDEX
from sim.pathways.base import LOCAL, Pathway, register

SECRETED = ("tgfb", "bdnf", "gdnf", "il10")


@register
class LocalParacrine(Pathway):
    name = "local_paracrine"
    route = LOCAL
    reads = "positions of MSCs in the patch"
    changes = "TGF-β, BDNF, GDNF (and IL-10, zero by default) sources; protective push on microglia in contact"
    memory = "none: acts while a tissue MSC lives (msc.tissue_half_life_h)"
    sources = ("Melief et al. 2013 Haematologica 98:888, doi:10.3324/haematol.2012.078055",
               "Németh et al. 2009 Nat Med 15:42, doi:10.1038/nm.1905")
    params = ("msc.tgfb", "msc.bdnf", "msc.gdnf", "msc.il10", "msc.paracrine_weight")

    def microglia_push(self, model, cells) -> np.ndarray | None:
        x, y = model.tissue_msc_positions()
        if not len(x):
            return None
        return self.p.paracrine_weight * model.contacts(cells["x"], cells["y"], x, y)

    def release(self, model):
        x, y = model.tissue_msc_positions()
        if not len(x):
            return
        voxels = model.voxel(x, y)
        nvox = model.n_voxels
        for name in SECRETED:
            yield voxels + FIELD_INDEX[name] * nvox, np.full(len(voxels), getattr(self.p, name) * model.per_molecule[FIELD_INDEX[name]])
