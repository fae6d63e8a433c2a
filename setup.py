"""Build the optional compiled kernel (sim/engine/_kernel.pyx); the rest is in pyproject.toml.

The extension is optional: where it cannot be compiled (no C compiler), the install still
succeeds and runs the SimPy engine, which gives identical results, slower.
``-ffp-contract=off`` keeps compilers from fusing a multiply and an add, which would round
differently from Python's float arithmetic.
"""

import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off"]
extensions = cythonize(
    [Extension("sim.engine._kernel", ["sim/engine/_kernel.pyx"], extra_compile_args=flags)],
    compiler_directives={"language_level": 3},
)
for extension in extensions:
    extension.optional = True  # set after cythonize, which does not carry it over
setup(ext_modules=extensions)
