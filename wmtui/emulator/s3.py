"""The emulator's S3: the export files its jobs leave, served on 127.0.0.1 as S3's REST API.

When an emulated export is COMPLETED, its `.zip` is in the bucket at S3Path, encrypted (SSE-KMS
headers) with the job's KMS key, of a size derived from the mailbox's; nothing is stored for it:
the bytes are made up on the fly from the job, so a demo of thousands of gigabytes costs nothing.
HeadObject, GetObject (with Range and If-Match), PutObject and DeleteObject work, path-style, as
botocore and the AWS CLI (`aws s3api head-object`, `aws s3 cp`) send them.

Also here: mailbox sizes and GetMailboxDetails, which the state's operation table calls.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import socket
import threading
import uuid
import weakref
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from wmtui.emulator.serving import Serving
from wmtui.emulator.wire import ACCOUNT_ID

if TYPE_CHECKING:
    from wmtui.emulator.jobs import EmulatedJob
    from wmtui.emulator.state import EmulatorState

__all__ = [
    "S3_FAULTS",
    "SPOILS",
    "ExportObjectStore",
    "S3Server",
    "StoredObject",
    "get_mailbox_details",
    "mailbox_size_mb",
    "objects_of",
]

# What spoil() can do to one export object, for tests and the demo.
SPOILS = frozenset({"missing", "wrong-key", "empty", "plain"})
# Faults S3Server.inject() understands.
S3_FAULTS = frozenset({"throttle", "access-denied", "reset", "500"})
# An export holds about this share of the mailbox (MIME text compresses; attachments do not).
EXPORT_RATIO = 0.6
_MB = 1024 * 1024
_PART = 8 * _MB  # what a multipart ETag counts parts of, as the export's upload would
_PATTERN_BYTES = 64 * 1024
OTHER_KMS_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/00000000-dead-beef-0000-000000000000"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
_CREDENTIAL = re.compile(
    r"Credential=(?P<key>[^/,\s&]+)/\d{8}/(?P<region>[^/,\s&]+)/(?P<svc>[^/,\s&]+)/"
)


def mailbox_size_mb(entity_id: str) -> float:
    """A mailbox's size in MB, the same every run: from a few MB to a few GB."""
    roll = zlib.crc32(entity_id.encode()) % 10_000
    # Most mailboxes are small; one in ten is a heavy one.
    size = 5 + roll % 900 if roll % 10 else 1000 + roll % 4000
    return float(size)


def get_mailbox_details(
    state: EmulatorState, params: Mapping[str, Any], region: str
) -> dict[str, Any]:
    """GetMailboxDetails: MailboxQuota and MailboxSize (MB) of a user."""
    mailbox = state._described_entity(params, region, "UserId", resource=False)
    return {"MailboxQuota": 51200, "MailboxSize": mailbox_size_mb(mailbox.entity_id)}


@dataclass(frozen=True)
class StoredObject:
    size: int
    etag: str
    last_modified: datetime
    encryption: str | None
    kms_key: str | None
    body: bytes | None = None  # None: bytes made from `seed`
    seed: str = ""

    def chunks(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes start..end inclusive."""
        if self.body is not None:
            yield self.body[start : end + 1]
            return
        pattern = _pattern(self.seed)
        position = start
        while position <= end:
            offset = position % _PATTERN_BYTES
            piece = pattern[offset : offset + min(_PATTERN_BYTES - offset, end - position + 1)]
            yield piece
            position += len(piece)


_patterns: dict[str, bytes] = {}


def _pattern(seed: str) -> bytes:
    found = _patterns.get(seed)
    if found is None:
        blocks: list[bytes] = []
        block = hashlib.sha256(seed.encode()).digest()
        while len(blocks) * 32 < _PATTERN_BYTES:
            blocks.append(block)
            block = hashlib.sha256(block).digest()
        found = _patterns[seed] = b"PK\x03\x04" + b"".join(blocks)[4:_PATTERN_BYTES]
    return found


class ExportObjectStore:
    """The emulator's buckets: objects put there, and those its COMPLETED jobs imply."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = weakref.ref(state)
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str], StoredObject] = {}
        self._deleted: set[tuple[str, str]] = set()
        self._spoiled: dict[tuple[str, str], str] = {}
        self.forbidden_buckets: set[str] = set()

    def spoil(self, bucket: str, key: str, how: str) -> None:
        """Make one export object missing, encrypted with another key, empty or unencrypted."""
        if how not in SPOILS:
            raise ValueError(f"unknown spoil {how!r}; one of {sorted(SPOILS)}")
        with self._lock:
            self._spoiled[(bucket, key)] = how

    def spoil_job(self, job: EmulatedJob, how: str) -> None:
        self.spoil(job.s3_bucket_name, _object_key(job), how)

    def _job_object(self, bucket: str, key: str) -> StoredObject | None:
        state = self._state()
        job = state.export_of(bucket, key) if state is not None else None
        if job is None or job.state != "COMPLETED":
            return None
        size = int(mailbox_size_mb(job.entity_id) * _MB * EXPORT_RATIO) + len(job.job_id)
        parts = max(1, -(-size // _PART))
        digest = hashlib.md5(f"{bucket}/{key}/{size}".encode()).hexdigest()
        return StoredObject(
            size=size,
            etag=f'"{digest}-{parts}"' if parts > 1 else f'"{digest}"',
            last_modified=(job.end_time or job.start_time).astimezone(UTC),
            encryption="aws:kms",
            kms_key=job.kms_key_arn,
            seed=f"{job.organization_id}/{job.job_id}",
        )

    def get(self, bucket: str, key: str) -> StoredObject | None:
        with self._lock:
            found = self._objects.get((bucket, key))
            deleted = (bucket, key) in self._deleted
            how = self._spoiled.get((bucket, key))
        if found is None and not deleted:
            found = self._job_object(bucket, key)
        if found is None or how is None:
            return found
        if how == "missing":
            return None
        if how == "wrong-key":
            return replace(found, kms_key=OTHER_KMS_KEY)
        if how == "empty":
            return replace(found, size=0, body=b"", etag='"d41d8cd98f00b204e9800998ecf8427e"')
        return replace(found, encryption=None, kms_key=None)

    def put(self, bucket: str, key: str, body: bytes, headers: Mapping[str, str]) -> StoredObject:
        encryption = headers.get("x-amz-server-side-encryption")
        kms_key = headers.get("x-amz-server-side-encryption-aws-kms-key-id")
        if encryption and encryption.startswith("aws:kms") and not kms_key:
            kms_key = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/aws-managed-s3"
        stored = StoredObject(
            size=len(body),
            etag=f'"{hashlib.md5(body).hexdigest()}"',
            last_modified=datetime.now(UTC).replace(microsecond=0),
            encryption=encryption,
            kms_key=kms_key,
            body=body,
        )
        with self._lock:
            self._objects[(bucket, key)] = stored
            self._deleted.discard((bucket, key))
            self._spoiled.pop((bucket, key), None)
        return stored

    def delete(self, bucket: str, key: str) -> None:
        with self._lock:
            self._objects.pop((bucket, key), None)
            self._deleted.add((bucket, key))

    def has_bucket(self, bucket: str) -> bool:
        state = self._state()
        with self._lock:
            if any(b == bucket for b, _ in self._objects):
                return True
        return state is not None and state.has_export_bucket(bucket)


def _object_key(job: EmulatedJob) -> str:
    path = job.s3_path
    return (
        path[len(job.s3_bucket_name) + 1 :] if path.startswith(job.s3_bucket_name + "/") else path
    )


_stores: weakref.WeakKeyDictionary[EmulatorState, ExportObjectStore] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def objects_of(state: EmulatorState) -> ExportObjectStore:
    """The S3 store of an emulated WorkMail (made on first use; one per state)."""
    with _stores_lock:
        store = _stores.get(state)
        if store is None:
            store = _stores[state] = ExportObjectStore(state)
        return store


# ---- the wire -------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # Dozens of parallel HeadObject calls connect at once: a backlog of 5 would drop SYNs,
    # each costing a second's retransmit.
    request_queue_size = 128
    s3: S3Server

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints a traceback to stderr; a client gone mid-request (the app
        # quitting) is no news, and stderr may be a terminal that has just closed.
        import sys

        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, OSError):
            self.s3.internal_errors.append(f"{type(exc).__name__}: {exc}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "wmtui-emulator-s3"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_HEAD(self) -> None:
        self.server.s3.handle(self, "HEAD")

    def do_GET(self) -> None:
        self.server.s3.handle(self, "GET")

    def do_PUT(self) -> None:
        self.server.s3.handle(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.s3.handle(self, "DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        return


@dataclass
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    stream: StoredObject | None = None
    span: tuple[int, int] | None = None


class S3Server:
    """S3's REST API for the export buckets of one emulated WorkMail, on 127.0.0.1."""

    def __init__(
        self,
        state: EmulatorState,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.store = objects_of(state)
        self.host = host
        self.port = port
        self.latency = latency  # milliseconds, read at each request
        self.endpoint_url = ""
        self.requests: dict[str, int] = {}
        self.internal_errors: list[str] = []
        self._lock = threading.Lock()
        self._faults: list[list[Any]] = []
        self._serving: Serving[_HTTPServer] = Serving("wmtui-emulator-s3")

    def start(self) -> S3Server:
        if not self._serving.running:
            httpd = self._serving.start(_HTTPServer, _Handler, (self.host, self.port))
            httpd.s3 = self
            self.port = httpd.server_address[1]
            self.endpoint_url = f"http://{self.host}:{self.port}"
        return self

    def stop(self) -> None:
        if self._serving.shut_down():
            self._serving.join()

    def inject(self, fault: str, count: int = 1) -> None:
        """The next `count` requests get `fault`: throttle (503 SlowDown), access-denied (403),
        500, or reset (a GetObject's connection closed half-way through the body)."""
        if fault not in S3_FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {sorted(S3_FAULTS)}")
        with self._lock:
            self._faults.append([fault, count])

    def _take_fault(self, method: str) -> str | None:
        with self._lock:
            for entry in self._faults:
                if entry[0] == "reset" and method != "GET":
                    continue
                entry[1] -= 1
                if entry[1] <= 0:
                    self._faults.remove(entry)
                return str(entry[0])
        return None

    def handle(self, handler: _Handler, method: str) -> None:
        try:
            body = _read_body(handler)
            with self._lock:
                self.requests[method] = self.requests.get(method, 0) + 1
            latency = self.latency()
            if latency > 0 and self._serving.stopping.wait(latency / 1000):
                handler.close_connection = True
                return
            reply = self._answer(handler, method, body)
            self._send(handler, method, reply)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True
        except Exception as exc:  # a bug in the emulator: S3's own 500
            self.internal_errors.append(f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(OSError):
                self._send(handler, method, _error(500, "InternalError", "The emulator failed."))

    def _answer(self, handler: _Handler, method: str, body: bytes) -> _Reply:
        caller = _caller(handler)
        if caller is None:
            return _error(403, "AccessDenied", "Missing or malformed AWS SigV4 authorization.")
        path = urlsplit(handler.path).path
        bucket, _, key = path.lstrip("/").partition("/")
        bucket, key = unquote(bucket), unquote(key)
        fault = self._take_fault(method)
        if fault == "throttle":
            return _error(503, "SlowDown", "Please reduce your request rate.")
        if fault == "500":
            return _error(500, "InternalError", "We encountered an internal error.")
        if (
            caller.startswith("DENIED")
            or fault == "access-denied"
            or (bucket in self.store.forbidden_buckets)
        ):
            return _error(403, "AccessDenied", "Access Denied")
        if not bucket or not key:
            return _error(400, "InvalidRequest", "Only object operations are served.")
        if method == "PUT":
            stored = self.store.put(bucket, key, body, _lower(handler.headers.items()))
            return _Reply(200, {"ETag": stored.etag, **_encryption_headers(stored)})
        if method == "DELETE":
            self.store.delete(bucket, key)
            return _Reply(204, {})
        found = self.store.get(bucket, key)
        if found is None:
            code = "NoSuchKey" if self.store.has_bucket(bucket) else "NoSuchBucket"
            return _error(404, code, "The specified key does not exist.", key=key)
        return _object_reply(handler, method, found, reset=fault == "reset")

    def _send(self, handler: _Handler, method: str, reply: _Reply) -> None:
        handler.send_response(reply.status)
        length = len(reply.body)
        if reply.span is not None:
            length = reply.span[1] - reply.span[0] + 1
        headers = {"Content-Length": str(length), "x-amz-request-id": uuid.uuid4().hex[:16]}
        headers.update(reply.headers)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if method == "HEAD":
            return
        if reply.stream is not None and reply.span is not None:
            start, end = reply.span
            limit = end + 1 if reply.headers.get("x-wmtui-reset") is None else start + length // 2
            for chunk in reply.stream.chunks(start, end):
                if start + len(chunk) > limit:
                    handler.wfile.write(chunk[: limit - start])
                    handler.wfile.flush()
                    handler.close_connection = True
                    with contextlib.suppress(OSError):
                        handler.connection.shutdown(socket.SHUT_RDWR)
                    return
                handler.wfile.write(chunk)
                start += len(chunk)
        else:
            handler.wfile.write(reply.body)
        handler.wfile.flush()


def _object_reply(handler: _Handler, method: str, found: StoredObject, *, reset: bool) -> _Reply:
    headers = {
        "ETag": found.etag,
        "Last-Modified": format_datetime(found.last_modified, usegmt=True),
        "Accept-Ranges": "bytes",
        "Content-Type": "application/zip",
        **_encryption_headers(found),
    }
    if_match = handler.headers.get("If-Match")
    if if_match and if_match.strip() not in ("*", found.etag):
        return _error(412, "PreconditionFailed", "At least one precondition did not hold.")
    span = (0, found.size - 1)
    status = 200
    wanted = handler.headers.get("Range")
    if wanted and method == "GET":
        match = _RANGE.match(wanted.strip())
        if match is None or found.size == 0:
            return _error(416, "InvalidRange", "The requested range is not satisfiable.")
        first, last = match.groups()
        if first:
            span = (int(first), min(int(last), found.size - 1) if last else found.size - 1)
        elif last:
            span = (max(0, found.size - int(last)), found.size - 1)
        if span[0] >= found.size or span[0] > span[1]:
            return _error(416, "InvalidRange", "The requested range is not satisfiable.")
        status = 206
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{found.size}"
    if reset:
        headers["x-wmtui-reset"] = "1"
    if found.size == 0:
        return _Reply(status, headers, b"")
    return _Reply(status, headers, stream=found, span=span)


def _encryption_headers(found: StoredObject) -> dict[str, str]:
    headers: dict[str, str] = {}
    if found.encryption:
        headers["x-amz-server-side-encryption"] = found.encryption
    if found.kms_key:
        headers["x-amz-server-side-encryption-aws-kms-key-id"] = found.kms_key
    return headers


def _error(status: int, code: str, message: str, *, key: str | None = None) -> _Reply:
    from xml.sax.saxutils import escape

    extra = f"<Key>{escape(key)}</Key>" if key else ""
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message>{extra}<RequestId>{uuid.uuid4().hex[:16]}"
        "</RequestId></Error>"
    ).encode()
    return _Reply(status, {"Content-Type": "application/xml"}, body)


def _lower(items: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in items}


def _caller(handler: _Handler) -> str | None:
    """The access key of a SigV4 request (header or presigned query) scoped to s3."""
    text = handler.headers.get("Authorization") or unquote(urlsplit(handler.path).query)
    match = _CREDENTIAL.search(text)
    if match is None or match["svc"] != "s3":
        return None
    return match["key"]


def _read_body(handler: _Handler) -> bytes:
    """The request body: plain, HTTP chunked, or aws-chunked (the CLI's streaming uploads)."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        raw = _read_chunked(handler)
    else:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length > 0 else b""
    if "aws-chunked" in (handler.headers.get("Content-Encoding") or ""):
        return _decode_aws_chunked(raw)
    return raw


def _read_chunked(handler: _Handler) -> bytes:
    out = bytearray()
    while True:
        size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return bytes(out)
        out += handler.rfile.read(size)
        handler.rfile.readline()


def _decode_aws_chunked(raw: bytes) -> bytes:
    out = bytearray()
    position = 0
    while position < len(raw):
        line_end = raw.index(b"\r\n", position)
        size = int(raw[position:line_end].split(b";")[0] or b"0", 16)
        position = line_end + 2
        if size == 0:
            break
        out += raw[position : position + size]
        position += size + 2
    return bytes(out)
