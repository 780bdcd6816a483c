"""`python -m sim` is the same as `alsim`."""
from sim.cli import main

main()
