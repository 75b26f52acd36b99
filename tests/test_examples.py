"""The examples run end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_multi_slot_pipeline_runs() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLES / "multi_slot_pipeline.py")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "batch 2: image (2, 3, 160, 160)" in done.stdout
    assert "skipped row 2 (missing): read" in done.stdout
