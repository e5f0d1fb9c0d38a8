"""One range of a SQLite audit chain, hashed in a process of its own: `python -m
bot.store.audit_range_worker` reads the range as JSON on stdin and answers as JSON on stdout.
It imports only the standard library and the range check, so it starts in a few milliseconds.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from bot.audit.ranges import RangeCheck, hash_rows

_SQLITE_ROWS = (
    "SELECT seq, prev_hash, hash, CAST(body AS BLOB) FROM audit_entries "
    "WHERE seq BETWEEN ? AND ? ORDER BY seq"
)


def check_sqlite_range(path: str, lo: int, hi: int, watch: Collection[int]) -> RangeCheck:
    """Hash one range of a SQLite chain here."""
    db = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        return hash_rows(db.execute(_SQLITE_ROWS, (lo, hi)), lo, hi, set(watch))
    except sqlite3.Error:  # unreadable: the walk says what is wrong
        return RangeCheck(lo, hi, False)
    finally:
        db.close()


def to_json(check: RangeCheck) -> dict[str, Any]:
    return {
        "lo": check.lo,
        "hi": check.hi,
        "sound": check.sound,
        "first_prev": check.first_prev,
        "last_hash": check.last_hash,
        "seen": {str(k): v for k, v in check.seen.items()},
    }


def from_json(data: dict[str, Any]) -> RangeCheck:
    seen = {int(k): str(v) for k, v in dict(data["seen"]).items()}
    return RangeCheck(
        int(data["lo"]),
        int(data["hi"]),
        bool(data["sound"]),
        str(data["first_prev"]),
        str(data["last_hash"]),
        seen,
    )


def main() -> None:
    """One range of a SQLite chain, asked for on stdin, answered as JSON on stdout."""
    job = json.loads(sys.stdin.read())
    check = check_sqlite_range(str(job["path"]), int(job["lo"]), int(job["hi"]), job["watch"])
    sys.stdout.write(json.dumps(to_json(check)))


if __name__ == "__main__":
    main()
