"""alsim: an agent-based model of ALS motor-neuron loss and IV MSC therapy (non-clinical)."""
__version__ = "0.1.0"

NOTICE = ("NON-CLINICAL MODEL: in-silico hypothesis exploration only. Outputs are not clinical "
          "predictions, not dose recommendations and not medical advice.")
