"""Mesenchymal stromal cells (MSCs), in blood, lung, cerebrospinal fluid (CSF) and tissue.

Outside the tissue an MSC agent is a *packet* standing for `cells` identical cells (an infusion
is split into `msc.packets_per_infusion` packets) with a compartment (blood, lung or CSF) and no
position; packets move between compartments as wholes, so the cell count is conserved exactly.
The route (`treatment.route`) sets where a dose starts: IV packets in the lung or blood, intrathecal
packets in the CSF. Entry into the patch is counted per cell: when a packet leaves the blood (homing,
through the barrier) or the CSF (through the pia), Binomial(cells, p) of its cells enter the patch and
become individual tissue MSC agents with a position. After IV infusion this
is rare (≤ 0.05 % of a dose outside the lung, Lee et al. 2009 Cell Stem Cell 5:54; scant CNS
homing in SOD1 mice, Uccelli et al. 2012 Mol Med 18:794), and the patch holds only its share
of the cord. Tissue MSCs move up the damage gradient, secrete TGF-β/BDNF/GDNF (not IL-10:
Melief et al. 2013 Haematologica 98:888) and die with a half-life of about a day (none viable at
72 h: Eggenhofer et al. 2012 Front Immunol 3:297). The pharmacokinetic rules live in `sim.pk`.
"""
from __future__ import annotations

import numpy as np

from sim.agents.base import ColumnAgent, column

BLOOD, LUNG, TISSUE, CSF = 0, 1, 2, 3
COMPARTMENTS = ("blood", "lung", "tissue", "csf")
SCHEMA = {"compartment": np.int8, "cells": np.int64, "x": float, "y": float}


class MSC(ColumnAgent):
    """An MSC packet (blood/lung/CSF: many cells, no position) or a single MSC in the tissue."""

    store_name = "msc_store"
    cells = column("cells", "cells this agent stands for")

    @property
    def compartment(self) -> str:
        return COMPARTMENTS[self.store["compartment"][self.slot]]

    @property
    def pos(self):
        if self.store["compartment"][self.slot] != TISSUE:
            return None
        return (self.store["x"][self.slot].item(), self.store["y"][self.slot].item())

    @pos.setter
    def pos(self, value):
        pass
