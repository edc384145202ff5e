"""How every process of the system logs: readable lines, or one JSON object per line.

The libraries log with fixed messages and put their context in ``extra=`` (STYLE 10); the
formatters here make that context visible. ``INTERPRETER_LOG_FORMAT=json`` gives one JSON object
per line (``time``, ``level``, ``logger``, ``message``, the context, and ``exception`` with the
traceback), for log collectors. Context values under names that say they are secret (``token``,
``secret``, ``passcode``, ``password``, ``authorization``, ``api_key``...) are replaced by
``"[redacted]"`` in both formats, and a URL's password is masked, so a careless ``extra=`` does
not put credentials in a log.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
from typing import Any, Final, Literal

__all__ = ["REDACTED", "ContextFormatter", "JsonFormatter", "configure_logging", "log_context"]

REDACTED: Final = "[redacted]"

_STANDARD_RECORD_KEYS: Final = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
}
_SECRET_NAME = re.compile(r"token|secret|passcode|password|authorization|api_?key|credential", re.I)
_URL_PASSWORD = re.compile(r"(?<=://)([^/@:\s]+):([^/@\s]+)@")


def _safe(key: str, value: Any) -> Any:
    if _SECRET_NAME.search(key):
        return REDACTED
    if isinstance(value, str):
        return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{REDACTED}@", value)
    return value


def log_context(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` context of ``record`` (what is not a standard record attribute), with
    secrets redacted."""
    return {
        k: _safe(k, v)
        for k, v in vars(record).items()
        if k not in _STANDARD_RECORD_KEYS and not k.startswith("_")
    }


class ContextFormatter(logging.Formatter):
    """``time level logger: message key=value ...``, the ``extra=`` context made visible."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = log_context(record)
        if context:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(context.items()))
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601 with milliseconds), ``level``,
    ``logger``, ``message``, the context, and ``exception`` (the formatted traceback) when
    there is one. Values JSON cannot hold are written as their ``str``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        entry: dict[str, Any] = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": _safe("message", record.getMessage()),
        }
        for key, value in log_context(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str, fmt: Literal["text", "json"] = "text") -> None:
    """Send every logger's records to stderr, as text lines or JSON (the CLI's job: libraries
    never configure handlers)."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(ContextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
