"""What a download of an export file gives back, and where it lands: pure, shared by the
boto3 side (wmtui.aws.download) and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["FetchResult", "LocalFileError", "target_path"]


class LocalFileError(Exception):
    """The download cannot go where it should (an existing file, a full disk); str() says why
    and what to do."""


@dataclass(frozen=True)
class FetchResult:
    path: Path
    size: int
    resumed_from: int  # bytes there from an earlier run (0: a fresh download)
    already_there: bool = False


def target_path(folder: Path, job_id: str) -> Path:
    """Where a job's export lands: `<folder>/<job_id>.zip`. The S3 key never names the file;
    a job ID (validated: letters, digits, '-') holds no separator."""
    if not job_id or any(ch in job_id for ch in "/\\\0") or job_id in (".", ".."):
        raise LocalFileError(f"job ID {job_id!r} cannot name a file")
    return folder / f"{job_id}.zip"
