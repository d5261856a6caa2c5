"""Download an export's `.zip` with boto3's own transfer manager, resumably, never overwriting.

The file lands in the folder the user gave, named after the job (`<JobId>.zip`): the S3 key
never decides a path. While it downloads it is `<JobId>.zip.part`, with the object's ETag in
`<JobId>.zip.part.etag`; an interrupted or disk-full download leaves the `.part` holding only
bytes known to be good (a contiguous start of the object), and the next run continues from
there with a ranged GetObject bound to the same ETag (If-Match). A complete file is checked
against the object's size and ETag (the transfer manager's ranges carry If-Match too, and a
HeadObject afterwards must show the same ETag: for an SSE-KMS object the ETag is not an MD5
of the bytes, so "the same object throughout" is what it can prove), then linked into place
without replacing anything.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from wmtui.core.fetching import FetchResult, LocalFileError, target_path
from wmtui.core.verification import ObjectFacts

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

__all__ = ["FetchResult", "LocalFileError", "download_object", "target_path"]

# Bytes read per loop of a resumed download.
_CHUNK = 1024 * 1024
# Part size and threads of the transfer manager: big objects go in parallel ranges.
MULTIPART_CHUNK = 8 * 1024 * 1024
MAX_CONCURRENCY = 8

# Called with the bytes written so far (including those of an earlier run) and the total.
Progress = Callable[[int, int], None]


class _GoodPrefix:
    """A file the transfer manager writes in parallel ranges, remembering which bytes landed,
    so that after a failure the file can be cut back to its contiguous good start."""

    def __init__(self, handle: BinaryIO, start: int) -> None:
        self._handle = handle
        self._position = 0
        self._lock = threading.Lock()
        self._spans: list[tuple[int, int]] = [(0, start)] if start else []

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = self._handle.seek(offset, whence)
        return self._position

    def tell(self) -> int:
        return self._position

    def write(self, data: bytes) -> int:
        written = self._handle.write(data)
        with self._lock:
            self._spans.append((self._position, self._position + written))
        self._position += written
        return written

    def flush(self) -> None:
        self._handle.flush()

    def good_prefix(self) -> int:
        end = 0
        with self._lock:
            spans = sorted(self._spans)
        for start, stop in spans:
            if start > end:
                break
            end = max(end, stop)
        return end


def _read_etag(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def download_object(
    client: S3Client,
    bucket: str,
    key: str,
    target: Path,
    facts: ObjectFacts,
    *,
    progress: Progress | None = None,
) -> FetchResult:
    """Download s3://bucket/key (as HeadObject described it in `facts`) to `target`.

    Raises LocalFileError for a file in the way or a full disk, and whatever botocore raises
    for the transfer itself (the caller turns it into a ServiceError)."""
    size = facts.size
    if target.exists():
        if target.is_file() and target.stat().st_size == size:
            return FetchResult(target, size, 0, already_there=True)
        raise LocalFileError(
            f"{target} exists and is not this export ({target.stat().st_size} bytes, the object "
            f"has {size}): it is never overwritten; move it away and run again"
        )
    part = target.with_name(target.name + ".part")
    etag_file = target.with_name(target.name + ".part.etag")
    start = part.stat().st_size if part.is_file() else 0
    if start and (_read_etag(etag_file) != facts.etag or start > size):
        start = 0  # another object (or version) than the one the .part started from
    try:
        with open(part, "r+b" if start else "wb") as handle:
            handle.truncate(start)
            etag_file.write_text(facts.etag or "", encoding="ascii")
            if start == 0:
                _transfer(client, bucket, key, handle, size, progress)
            elif start < size:
                _resume(client, bucket, key, handle, start, facts, progress)
    except OSError as exc:
        raise LocalFileError(
            f"writing {part} failed ({exc.strerror or exc}); what was downloaded is kept and "
            "the next run continues from there"
        ) from exc
    written = part.stat().st_size
    if written != size:
        raise LocalFileError(
            f"{part} has {written} bytes, the object {size}: run again to continue"
        )
    _check_unchanged(client, bucket, key, facts)
    try:
        # A link fails if the target appeared meanwhile: nothing is ever replaced.
        os.link(part, target)
    except FileExistsError as exc:
        raise LocalFileError(f"{target} appeared during the download; left it as it is") from exc
    except OSError:
        if target.exists():
            raise
        os.rename(part, target)  # a file system without hard links
    with contextlib.suppress(OSError):
        part.unlink()
    with contextlib.suppress(OSError):
        etag_file.unlink()
    return FetchResult(target, size, start)


def _transfer(
    client: S3Client, bucket: str, key: str, handle: BinaryIO, size: int, progress: Progress | None
) -> None:
    """A fresh download through boto3's transfer manager (multipart, parallel, If-Match)."""
    from boto3.s3.transfer import TransferConfig

    tracked = _GoodPrefix(handle, 0)
    done = [0]
    lock = threading.Lock()

    def on_bytes(count: int) -> None:
        with lock:
            done[0] += count
            seen = done[0]
        if progress is not None:
            progress(seen, size)

    config = TransferConfig(
        multipart_threshold=MULTIPART_CHUNK,
        multipart_chunksize=MULTIPART_CHUNK,
        max_concurrency=MAX_CONCURRENCY,
    )
    try:
        client.download_fileobj(bucket, key, tracked, Callback=on_bytes, Config=config)  # type: ignore[arg-type]
    except BaseException:
        with contextlib.suppress(OSError):
            handle.flush()
            handle.truncate(tracked.good_prefix())
        raise


def _resume(
    client: S3Client,
    bucket: str,
    key: str,
    handle: BinaryIO,
    start: int,
    facts: ObjectFacts,
    progress: Progress | None,
) -> None:
    """The rest of the object, from `start`, bound to the ETag the .part began with."""
    extra: dict[str, Any] = {"IfMatch": facts.etag} if facts.etag else {}
    answer = client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-", **extra)
    body = answer["Body"]
    handle.seek(start)
    position = start
    try:
        while chunk := body.read(_CHUNK):
            handle.write(chunk)
            position += len(chunk)
            if progress is not None:
                progress(position, facts.size)
    finally:
        handle.flush()
        body.close()


def _check_unchanged(client: S3Client, bucket: str, key: str, facts: ObjectFacts) -> None:
    """The object is still the one downloaded: same size and ETag as when it started."""
    now = client.head_object(Bucket=bucket, Key=key)
    etag = now.get("ETag")
    if now.get("ContentLength") != facts.size or (facts.etag and etag != facts.etag):
        raise LocalFileError(
            f"s3://{bucket}/{key} changed during the download (ETag {etag}, was {facts.etag}); "
            "run again to download the new one"
        )
