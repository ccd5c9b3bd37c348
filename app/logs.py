"""Structured logging: text for people, JSON lines for log collectors."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
# uvicorn attaches an ANSI-coloured copy of its message: noise in a log collector.
_DROPPED = {"color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in _DROPPED and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool | None) else repr(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


TRACE = 5
logging.addLevelName(TRACE, "TRACE")

FORMATS = {
    "text": "%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    "pretty": "%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    "compact": "%(asctime)s %(levelname).1s %(name)s: %(message)s",
}


def configure_logging(level: str, fmt: str) -> None:
    """`level`: trace | debug | info | warning | error | critical; `fmt`: text | pretty | compact | json."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif fmt == "compact":
        handler.setFormatter(logging.Formatter(FORMATS["compact"], datefmt="%H:%M:%S"))
    else:
        handler.setFormatter(logging.Formatter(FORMATS.get(fmt, FORMATS["text"])))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = level.lower()
    root.setLevel(TRACE if level == "trace" else level.upper())
    # trace: debug plus every SQL statement the server runs.
    logging.getLogger("sqlalchemy.engine").setLevel("INFO" if level == "trace" else "WARNING")
    # Python warnings go through the same handler, so a JSON log stays one object per line.
    logging.captureWarnings(True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("alembic").setLevel("WARNING")
    logging.getLogger("uvicorn.access").setLevel("DEBUG" if level in ("debug", "trace") else "WARNING")
