"""MSC pathways: each way infused MSCs can act is one module behind one small interface (`base.Pathway`).

Local (through MSCs inside the patch; after IV infusion almost none get there): `homing` (entry),
`local_paracrine`, `local_vesicles`. Systemic (from lung and blood): `barrier_repair`, `exosome`,
`microglia_polarization`, `efferocytosis`, `systemic_treg`. They act on a step's environment by stage, then in
the order below: the barrier first, since everything blood-borne then reads the repaired leak.
"""
from sim.pathways import homing, local_paracrine, local_vesicles  # noqa: F401  (registration)
from sim.pathways import barrier_repair, exosome, microglia_polarization, efferocytosis, systemic_treg  # noqa: F401
from sim.pathways.base import LOCAL, REGISTRY, SYSTEMIC, Exposure, Pathway, register, switched_on

__all__ = ["LOCAL", "REGISTRY", "SYSTEMIC", "Exposure", "Pathway", "register", "switched_on"]
