"""Benchmarks live apart from the tests: run them with `python -m pytest benchmarks`."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
