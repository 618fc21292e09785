# cython: language_level=3
"""Compiled contract of the gateway loop: it drives the venue core through ``_core.pxd``'s
``cpdef`` commands and reads the constants of ``exchange/_enums.pxd`` (``CommandKind``,
``OrderFlag``); it exports only the Python-level ``deliver`` (see ``_gateway.pyi``)."""
from exchange._core cimport VenueCore
