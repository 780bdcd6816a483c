"""Agent types: motor neurons, microglia, regulatory T cells, MSCs (Mesa agents over NumPy columns)."""
from sim.agents.microglia import Microglia
from sim.agents.motor_neuron import MotorNeuron
from sim.agents.msc import MSC
from sim.agents.treg import Treg

__all__ = ["MSC", "Microglia", "MotorNeuron", "Treg"]
