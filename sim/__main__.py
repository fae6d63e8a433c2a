"""``python -m sim`` runs the fleetsim command line."""

from sim.cli.commands import main

main()
