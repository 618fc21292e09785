"""Test-run configuration shared by the whole suite.

Hypothesis profiles (select with ``HYPOTHESIS_PROFILE=name``): ``default`` keeps the suite
fast enough to run on every change and derandomized (the same examples on every machine, so
a CI result is reproducible); ``thorough`` runs twenty times more examples from a random seed,
for a nightly job or before touching the matching engine (``benchmarks/fuzz_venue.py`` is the
long random hunt of the venue).
"""
from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("default", max_examples=100, deadline=None, derandomize=True)
settings.register_profile("thorough", max_examples=2_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
