"""Retrying transient read failures with backoff and jitter, and counting retries and give-ups (docs/io.md).

Object stores' clients retry on their own — botocore in its ``standard`` mode (5 attempts) for
``s3``/``r2``, gcsfs (5 retries) for ``gs``, azure-core's default policy for ``az`` — so dataio
adds no loop there. For ``http(s)`` and ``hf`` the clients do not, so :func:`retrying` runs the
read under tenacity: a transport error, a timeout, a connection cut mid-body, ``429`` or a
``5xx`` reply is retried after a random exponential wait (0.1 s doubling, at most 5 s, full
jitter) until ``DATAIO_IO_RETRIES`` retries (default 5) or ``DATAIO_IO_RETRY_BUDGET_S`` seconds
(default 30) are spent; ``403``/``404`` and every other error fail at once. After the budget the
read raises :class:`~dataio.io.errors.TransportError` (a ``ConnectionError``), or
:class:`~dataio.io.errors.TransportTimeout` (a ``TimeoutError``) when the last attempt timed
out — both ``OSError`` — naming the URI and the attempts. Each retry and each read that ends
in a transport failure, whatever the backend, is counted (:func:`counters`;
``loader.stats()["io"]``).
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from typing import TypeVar

import tenacity

from dataio._env import worker_count
from dataio.io.errors import TransportError, TransportTimeout, status_of, translate
from dataio.io.redact import redacted

RETRIED_SCHEMES = ("http", "https", "hf", "hfd")
"""Schemes whose clients do not retry on their own."""
DEFAULT_RETRIES = 5
DEFAULT_BUDGET_S = 30.0
_FIRST_WAIT_S, _MAX_WAIT_S = 0.1, 5.0

_LOCK = threading.Lock()
_COUNTS = {"retries": 0, "failed_reads": 0}

T = TypeVar("T")


def counters() -> dict[str, int]:
    """Process-wide: ``retries`` (reads tried again) and ``failed_reads`` (reads that ended in a transport
    failure or timeout after every retry, the client's or dataio's)."""
    with _LOCK:
        return dict(_COUNTS)


def _count(name: str) -> None:
    with _LOCK:
        _COUNTS[name] += 1


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: a transport failure or timeout, or a ``429``/``5xx`` reply (not ``501``/``505``)."""
    status = status_of(exc)
    if status is not None and (status == 429 or (status >= 500 and status not in (501, 505))):
        return True
    return isinstance(translate(exc, ""), (TransportError, TransportTimeout))


def retrying(read: Callable[[], T], uri: str, scheme: str, *, failed_before: int = 0) -> T:
    """``read()``, retried on transient failures when ``scheme``'s client does not retry on its own.

    ``failed_before``: attempts of this read that already failed transiently (a member of a
    batched fetch read again alone): they count against the retries, and the first call here
    is a retry.

    Raises:
        TransportError / TransportTimeout: still failing after the retries (the last attempt's kind; the message
            names ``uri`` and the attempts).
        OSError / other: a failure that is not transient, at once (translated, naming ``uri``).
    """
    if scheme not in RETRIED_SCHEMES:
        return _counted(read, uri)
    retries = worker_count("DATAIO_IO_RETRIES", DEFAULT_RETRIES)
    if failed_before >= retries + 1:
        return _counted(read, uri)  # no retry left: one last read, as the client itself would not retry
    for _ in range(failed_before):
        _count("retries")
    start = time.monotonic()
    controller = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(retries + 1 - failed_before) | tenacity.stop_after_delay(_budget()),
        wait=tenacity.wait_random_exponential(multiplier=_FIRST_WAIT_S, max=_MAX_WAIT_S),
        retry=tenacity.retry_if_exception(is_transient),
        before_sleep=lambda _: _count("retries"),
        reraise=True,
    )
    try:
        return controller(read)
    except Exception as exc:
        if not is_transient(exc):
            raise translate(exc, uri) from exc
        _count("failed_reads")
        attempts = failed_before + controller.statistics.get("attempt_number", 1)
        last = translate(exc, uri)
        kind = TransportTimeout if isinstance(last, TransportTimeout) else TransportError
        raise kind(redacted(f"{uri}: gave up after {attempts} attempts in {time.monotonic() - start:.1f} s: {last}")
                   ) from exc


def _counted(read: Callable[[], T], uri: str) -> T:
    """``read()`` for a client that retries on its own: count a transport failure it gave up on."""
    try:
        return read()
    except Exception as exc:
        mapped = translate(exc, uri)
        if isinstance(mapped, (TransportError, TransportTimeout)):
            _count("failed_reads")
        if mapped is exc:
            raise
        raise mapped from exc


def _budget() -> float:
    """``DATAIO_IO_RETRY_BUDGET_S`` (seconds > 0), else the default (warning on an invalid value)."""
    raw = os.environ.get("DATAIO_IO_RETRY_BUDGET_S", "").strip()
    if not raw:
        return DEFAULT_BUDGET_S
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value > 0:
        return value
    warnings.warn(f"DATAIO_IO_RETRY_BUDGET_S={raw!r} is not a number of seconds > 0; using {DEFAULT_BUDGET_S}",
                  RuntimeWarning, stacklevel=3)
    return DEFAULT_BUDGET_S
