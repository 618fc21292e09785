"""One resolver for ``"package.module:Class"`` paths (and ``"path/to/file.py:Class"``).

Every registry that also accepts a user's class by path (agent types, strategies, waterfall
modules, mark methods) resolves it here: :func:`resolve` imports the module (a dotted module
name, or a Python file relative to the working directory) and returns the attribute; what
cannot be found raises :class:`ResolveError` (a :class:`~exchange.errors.ConfigError`) naming
what was being resolved, the path, and the cause.

>>> resolve("exchange.units:RATE_SCALE", what="'rate'")
100000000
>>> resolve("exchange.nothing_here:X", what="scenario: 'type'")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
exchange.resolve.ResolveError: scenario: 'type' 'exchange.nothing_here:X' cannot be imported (...)
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from exchange.errors import ConfigError

__all__ = ["ResolveError", "resolve", "resolve_module", "import_target", "split_spec", "is_file_target",
           "is_class_path"]


class ResolveError(ConfigError):
    """A ``"package.module:Class"`` path that could not be resolved: ``what`` names the setting
    being resolved, ``path`` the path, ``cause`` the exception the import raised."""

    def __init__(self, what: str, path: str, cause: BaseException):
        self.what, self.path, self.cause = what, path, cause
        super().__init__(f"{what} {path!r} cannot be imported "
                         f"({type(cause).__name__}: {cause})")

    def __reduce__(self):
        return (type(self), (self.what, self.path, self.cause))


def is_file_target(target: str) -> bool:
    """True when the module part of a spec names a Python file rather than a dotted module."""
    return target.endswith(".py") or "/" in target or "\\" in target


def is_class_path(spec: Any) -> bool:
    """True for a ``"package.module:Class"``-shaped string (a dot before the colon)."""
    if not isinstance(spec, str):
        return False
    head, sep, _ = spec.partition(":")
    return bool(sep) and "." in head


def split_spec(spec: str) -> tuple[str, str]:
    """(module or file, attribute) of ``spec``; the attribute is ``""`` when there is none.
    Splits at the last colon, so a Windows drive letter stays with the file."""
    target, sep, attr = spec.strip().rpartition(":")
    if not sep:
        return spec.strip(), ""
    return target, attr


def import_target(target: str) -> ModuleType:
    """The module ``target`` names: a dotted module name, or a Python file (imported once per
    resolved path under a private module name). A missing file raises ConfigError."""
    if not is_file_target(target):
        return importlib.import_module(target)
    path = Path(target).expanduser().resolve()
    if not path.is_file():
        raise ConfigError.for_key(None, "class", "a path to an existing Python file", target)
    name = "_perpsim_strategy_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return module


def resolve_module(spec: str, *, what: str) -> tuple[ModuleType, str]:
    """(module, attribute name) of ``spec``: the module imported, the attribute not looked up
    (``""`` when ``spec`` names none). Errors as :func:`resolve`."""
    target, attr = split_spec(spec)
    try:
        return import_target(target), attr
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's module failed to import
        raise ResolveError(what, spec, exc) from None


def resolve(path: str, *, what: str) -> Any:
    """The object ``path`` names (``"package.module:Class"``, ``"path/file.py:Class"``; without
    ``:Class`` the module itself). ``what`` names the setting in the error (e.g.
    ``"scenario: 'type'"``). Raises :class:`ResolveError` when the module cannot be imported
    (whatever it raised while importing) or has no such attribute; ConfigError for a missing
    file."""
    module, attr = resolve_module(path, what=what)
    if not attr:
        return module
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ResolveError(what, path, exc) from None
