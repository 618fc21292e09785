"""Build the Cython extensions. Metadata lives in pyproject.toml."""
import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

DIRECTIVES = {
    "language_level": "3",
    "boundscheck": False,
    "wraparound": False,
    "initializedcheck": False,
    "embedsignature": True,
}

extensions = [
    # the constants (cpdef enums of the .pxd files), seen from Python as IntEnums
    Extension("matching._enums", ["matching/_enums.pyx"]),
    Extension("exchange._enums", ["exchange/_enums.pyx"]),
    # The matcher's hot path is a chain of small methods; let gcc inline it into the batch loop.
    Extension("matching._book", ["matching/_book.pyx"],
              extra_compile_args=["-O3", "--param", "max-inline-insns-single=2000",
                                  "--param", "inline-unit-growth=400"]),
    Extension("exchange._core", ["exchange/_core.pyx"], extra_compile_args=["-O3"]),
    Extension("exchange.liquidation._kernels", ["exchange/liquidation/_kernels.pyx"],
              extra_compile_args=["-O3"]),
    Extension("exchange.sim._gateway", ["exchange/sim/_gateway.pyx"], extra_compile_args=["-O3"]),
    Extension("exchange.sim._replay", ["exchange/sim/_replay.pyx"], extra_compile_args=["-O3"]),
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES, include_path=["."], annotate=False),
    include_dirs=[numpy.get_include()],
)
