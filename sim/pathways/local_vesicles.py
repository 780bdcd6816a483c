"""Local vesicles (local): extracellular vesicles of MSCs inside the patch clear ROS and glutamate around them.

In a voxel holding n tissue MSCs, ROS and glutamate are divided by (1 + e_loc·n) (`msc.local_vesicle_effect`):
both live milliseconds to seconds, far shorter than a step, so they are at quasi-steady state and raising
their local loss by a factor divides their level by it (an exponential operator split would wrongly wipe
them out). Vesicles home to lesioned regions in SOD1 mice (Bonafede et al. 2020 Int J Mol Sci 21:3651,
doi:10.3390/ijms21103651); the magnitude is an assumption.

Acts only through MSCs that homed into the patch: after IV infusion that is almost none (`homing`).
"""
from __future__ import annotations

import numpy as np

from sim.fields import FIELD_INDEX
from sim.pathways.base import LOCAL, Pathway, register


@register
class LocalVesicles(Pathway):
    name = "local_vesicles"
    route = LOCAL
    reads = "positions of MSCs in the patch"
    changes = "divides ROS and glutamate in voxels holding MSCs"
    memory = "none: acts while a tissue MSC lives"
    sources = ("Bonafede et al. 2020 Int J Mol Sci 21:3651, doi:10.3390/ijms21103651",)
    params = ("msc.local_vesicle_effect",)

    def after_fields(self, model) -> None:
        e = self.p.local_vesicle_effect
        x, y = model.tissue_msc_positions()
        if e <= 0 or not len(x):
            return
        count = np.bincount(model.voxel(x, y), minlength=model.n_voxels).reshape(model.shape)
        model.solver.scale([FIELD_INDEX["ros"], FIELD_INDEX["glutamate"]], 1.0 / (1.0 + e * count))
