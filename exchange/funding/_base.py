"""Units of time and the argument check shared by the funding modules."""
from __future__ import annotations

from typing import Any

import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.oracle import NS_PER_S

HOUR_NS = 3600 * NS_PER_S
EIGHT_HOURS_NS = 8 * HOUR_NS
MINUTE_NS = 60 * NS_PER_S
_INT64_MAX = 2**63 - 1


def _check_int(field: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise invalid(field, "an int", value, error=ConfigError)
    if lo is not None and value < lo:
        raise invalid(field, f">= {lo}", value, error=ConfigError)
    if hi is not None and value > hi:
        raise invalid(field, f"<= {hi}", value, error=ConfigError)
    return int(value)

