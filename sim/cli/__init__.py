"""The ``fleetsim`` command line: thin typer commands over ``sim`` and ``analysis``."""

from sim.cli.commands import app, main

__all__ = ["app", "main"]
