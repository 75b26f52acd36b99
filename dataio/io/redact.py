"""Secrets never printed: a redaction of log records from dataio and the storage clients below it.

With a logger at DEBUG, botocore prints request headers (an ``Authorization`` header naming the
access key, ``x-amz-security-token``), presigned query strings carry signatures, connection
strings carry account keys, and URIs may carry ``user:password@``. dataio passed those
credentials down, so dataio removes them: :func:`install` wraps the process's log-record
factory (once, keeping any factory installed before it) so that every record made by a logger
of :data:`LOGGERS` has its message formatted and scrubbed before any handler sees it —
whatever handlers or levels the application configures.

Removed: the values of ``Authorization``, ``x-amz-security-token``, ``x-ms-*`` key headers and
``Ocp-Apim-Subscription-Key``; ``Bearer``/``Basic`` tokens; query parameters ``X-Amz-Signature``,
``X-Amz-Credential``, ``X-Amz-Security-Token``, ``sig``, ``token``, ``access_token``,
``key``; ``AccountKey=``/``SharedAccessSignature=``/``SharedAccessKey=`` in connection strings;
URI userinfo; AWS access key ids; and the literal value of every secret configured through
``configure_credentials`` or found in the usual environment variables.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

LOGGERS = ("dataio", "botocore", "aiobotocore", "boto3", "s3fs", "gcsfs", "google", "azure", "adlfs", "fsspec",
           "aiohttp", "urllib3", "httpx", "httpcore", "huggingface_hub", "kvikio")
"""Loggers (and their children) whose records are redacted."""
REDACTED = "<redacted>"
_ENV_SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY",
                "AZURE_STORAGE_KEY", "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_SAS_TOKEN",
                "AZURE_STORAGE_CONNECTION_STRING", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "GOOGLE_OAUTH_ACCESS_TOKEN")
_PATTERNS = (
    (re.compile(r"(?i)((?:authorization|x-amz-security-token|x-ms-(?:copy-source-authorization|encryption-key)|"
                r"ocp-apim-subscription-key)['\"]?\s*[:=]\s*['\"]?)[^'\",}\r\n]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"(?i)([?&;](?:x-amz-signature|x-amz-credential|x-amz-security-token|sig|token|access_token|key)=)"
                r"[^&\s'\"]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)((?:AccountKey|SharedAccessSignature|SharedAccessKey)=)[^;'\"\s]+"), r"\1" + REDACTED),
    (re.compile(r"(?<=://)[^/@\s'\"]+@"), "<credentials>@"),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b"), REDACTED),
)
_LOCK = threading.Lock()
_SECRETS: set[str] = set()
_installed = False


def remember(values: Iterable[str]) -> None:
    """Secrets to remove wherever they appear (``configure_credentials`` calls this); short ones are ignored."""
    with _LOCK:
        _SECRETS.update(v for v in values if isinstance(v, str) and len(v) >= 6)


def redacted(text: str) -> str:
    """``text`` with every secret pattern and every remembered secret replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    with _LOCK:
        secrets = sorted(_SECRETS | {os.environ[n] for n in _ENV_SECRETS if len(os.environ.get(n, "")) >= 6},
                         key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def install() -> None:
    """Redact the records of :data:`LOGGERS` from now on (idempotent; keeps the factory already installed)."""
    global _installed
    with _LOCK:
        if _installed:
            return
        _installed = True
    logging.setLogRecordFactory(_redacting(logging.getLogRecordFactory()))


def _redacting(make: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if record.name.split(".", 1)[0] in LOGGERS:
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a record that does not format is the logging module's to report
                return record
            clean = redacted(message)
            if clean != message:
                record.msg, record.args = clean, None
        return record

    return factory
