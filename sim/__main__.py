"""``python -m sim`` runs the fleetsim command line."""

from sim.cli import main

main()
