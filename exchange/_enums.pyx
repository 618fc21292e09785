# cython: language_level=3
"""Python view of ``exchange/_enums.pxd``: its ``cpdef enum``\\ s as IntEnums."""
