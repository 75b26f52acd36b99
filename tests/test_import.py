"""``import dataio`` stays light and exposes the contract's names."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import dataio

HEAVY = ("torch", "jax", "pyarrow", "h5py", "nvidia.dali", "cvcuda", "nvidia.nvimgcodec", "kvikio", "cupy",
         "safetensors", "s3fs", "gcsfs", "adlfs", "huggingface_hub")


def test_import_loads_no_heavy_module() -> None:
    code = f"import sys, json, dataio; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_core_names_are_exported() -> None:
    names = ("pipeline slot slots chain batch collate group_by map custom_op col Pipeline SlotStage BatchStage "
             "CollateStage GroupByStage CustomOp Decoder Transform BatchTransform Cond DataLoader Batch "
             "DataIOError PlanError RowError DecodeError BackendUnavailable DeviceUnavailable __version__ "
             "decoders transforms batch_transforms cond gds_available gds_info").split()
    for name in names:
        assert name in dataio.__all__, name
        assert hasattr(dataio, name), name
    assert isinstance(dataio.__version__, str)


def test_executor_packages_install_inside_the_namespace() -> None:
    import dataio.cpu_fallback
    import dataio.gpu

    assert dataio.cpu_fallback.__name__ == "dataio.cpu_fallback"
    code = "import importlib.util as u; print(u.find_spec('cpu_fallback') is None and u.find_spec('gpu') is None)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the installed layout, not the checkout
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/", env=env)
    assert out.stdout.strip() == "True"


def test_error_classes_derive_from_builtins() -> None:
    assert issubclass(dataio.PlanError, ValueError) and issubclass(dataio.PlanError, dataio.DataIOError)
    assert issubclass(dataio.RowError, RuntimeError)
    assert issubclass(dataio.DecodeError, ValueError)
    assert issubclass(dataio.BackendUnavailable, ImportError)
    assert issubclass(dataio.DeviceUnavailable, RuntimeError)


def test_every_package_directory_is_in_the_distribution() -> None:
    """A wheel (non-editable install) ships exactly the packages pyproject.toml lists."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    for package, directory in config["package-dir"].items():
        for sub in (root / directory).rglob("*.py"):
            relative = sub.parent.relative_to(root / directory)
            if "__pycache__" not in relative.parts:
                assert ".".join((package, *relative.parts)) in listed, f"{sub} is not packaged"
