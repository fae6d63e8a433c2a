"""pytest configuration; the helpers shared by the test groups are in ``helpers.py``."""
