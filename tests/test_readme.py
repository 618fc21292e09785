"""Every Python example in the README runs verbatim (from the repository root, as a user pastes
it), each in a fresh interpreter."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_python_example_runs_verbatim(i, tmp_path):
    script = tmp_path / f"readme_{i}.py"
    script.write_text(BLOCKS[i])
    p = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", str(script)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"README python block {i} failed:\n{p.stderr[-2000:]}"
