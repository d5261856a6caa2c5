"""The emulator on the wire: JSON 1.1 over HTTP on 127.0.0.1, as WorkMail speaks it to botocore.

Every request is checked the way the service checks it (a SigV4-looking Authorization header
scoped to `workmail`, then the operation's input shape from botocore's own model), and faults can
be injected by rate or one by one, so clients can be tested against throttling, 5xx and hangs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import random
import re
import socket
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from wmtui.emulator import model
from wmtui.emulator.serving import Serving
from wmtui.emulator.state import IMPLEMENTED_OPERATIONS, EmulatorState
from wmtui.emulator.wire import ACCOUNT_ID, ApiError, to_wire

# Faults inject() understands; each takes over the next matching requests.
FAULTS = frozenset(
    {
        "throttle",  # 400 ThrottlingException
        "500",  # 500 InternalFailure (JSON)
        "500-html",  # 500 with an HTML page, as a proxy or load balancer might answer
        "503",  # 503 ServiceUnavailable
        "hang",  # read the request, never answer (until hang_seconds or stop)
        "access-denied",  # 400 AccessDeniedException naming the IAM action
        "expired-token",  # 400 ExpiredTokenException
        "endless-token",  # List* answers always carry a NextToken
        "org-state",  # 400 OrganizationStateException
    }
)

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
_CREDENTIAL = re.compile(
    r"Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)"
    r"/aws4_request"
)
_HTML_500 = (
    b"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n"
    b"<body><h1>Internal Server Error</h1><p>The server encountered an internal error."
    b"</p></body></html>\n"
)


@dataclass
class _Injection:
    operation: str | None  # None: any operation
    fault: str
    remaining: int | None  # None: until cleared


@dataclass(frozen=True)
class _Caller:
    access_key: str
    region: str


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # stop() must not wait for a handler that is hanging on purpose.
    block_on_close = False
    emulator: EmulatorServer


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server_version = "wmtui-emulator"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add 40 ms.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.emulator._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.emulator._track(self.connection, False)

    def do_POST(self) -> None:
        self.server.emulator._handle(self)

    def do_GET(self) -> None:
        self.server.emulator._reply_error(
            self, ApiError("UnknownOperationException", "Only POST / is served.", 404)
        )

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: a test run or the `wmtui emulator` terminal should not fill with access logs.
        return


class EmulatorServer:
    """An emulated WorkMail endpoint on 127.0.0.1; a context manager (start on enter)."""

    def __init__(
        self,
        state: EmulatorState | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0,
        throttle_rate: float = 0,
        error_rate: float = 0,
        hang_rate: float = 0,
        hang_seconds: float = 30,
        seed: int = 0,
        allow_non_loopback: bool = False,
    ) -> None:
        if host == "localhost":
            host = "127.0.0.1"
        try:
            address = ipaddress.ip_address(host)
        except ValueError as exc:
            raise ValueError(f"emulator host must be an IP address, got {host!r}") from exc
        if address.version != 4:
            raise ValueError(f"emulator host must be an IPv4 address, got {host!r}")
        if not address.is_loopback and not allow_non_loopback:
            raise ValueError(
                f"the emulator serves only on loopback (127.0.0.1), not {host}: it accepts any "
                "credentials. Pass allow_non_loopback=True if you really mean it."
            )
        self.state = state if state is not None else EmulatorState()
        self.host = host
        self.port = port
        self.latency_ms = latency_ms
        self.throttle_rate = throttle_rate
        self.error_rate = error_rate
        self.hang_rate = hang_rate
        self.hang_seconds = hang_seconds
        self.endpoint_url = ""
        # Unexpected exceptions inside the emulator (tests assert this stays empty).
        self.internal_errors: list[str] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._injections: list[_Injection] = []
        self._connections: set[socket.socket] = set()
        self._serving: Serving[_HTTPServer] = Serving("wmtui-emulator")

    # ----------------------------------------------------------------- life cycle

    def start(self) -> EmulatorServer:
        if not self._serving.running:
            httpd = self._serving.start(_HTTPServer, _RequestHandler, (self.host, self.port))
            httpd.emulator = self
            self.port = httpd.server_address[1]
            self.endpoint_url = f"http://{self.host}:{self.port}"
        return self

    def stop(self) -> None:
        """Stop serving at once: hanging handlers are released and open connections closed."""
        if not self._serving.shut_down():
            return
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._serving.join()

    @property
    def running(self) -> bool:
        return self._serving.running

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # ----------------------------------------------------------------- faults

    def inject(self, operation: str | None, fault: str, count: int | None = 1) -> None:
        """The next `count` requests for `operation` (None: any) get `fault`.

        `count=None` keeps the fault on until clear_faults().
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {sorted(FAULTS)}")
        if operation is not None and operation not in IMPLEMENTED_OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        with self._lock:
            self._injections.append(_Injection(operation, fault, count))

    def clear_faults(self) -> None:
        with self._lock:
            self._injections.clear()

    def _take_injected(self, operation: str) -> str | None:
        with self._lock:
            for injection in self._injections:
                if injection.operation in (None, operation):
                    if injection.remaining is not None:
                        injection.remaining -= 1
                        if injection.remaining <= 0:
                            self._injections.remove(injection)
                    return injection.fault
        return None

    def _random_fault(self) -> str | None:
        with self._lock:
            roll = self._random.random()
            if roll < self.hang_rate:
                return "hang"
            roll -= self.hang_rate
            if roll < self.throttle_rate:
                return "throttle"
            roll -= self.throttle_rate
            if roll < self.error_rate:
                return "503" if self._random.random() < 0.25 else "500"
        return None

    # ----------------------------------------------------------------- requests

    def _handle(self, handler: _RequestHandler) -> None:
        try:
            length = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(length) if length > 0 else b""
            self._answer(handler, body)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True
        except Exception as exc:  # a bug in the emulator: answer like the service's 500
            self.internal_errors.append(f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(OSError):
                self._reply_error(handler, ApiError("InternalFailure", "The emulator failed.", 500))

    def _answer(self, handler: _RequestHandler, body: bytes) -> None:
        target = handler.headers.get("X-Amz-Target") or ""
        prefix, _, operation = target.partition(".")
        if prefix != model.TARGET_PREFIX or operation not in IMPLEMENTED_OPERATIONS:
            self._reply_error(handler, ApiError("UnknownOperationException", ""))
            return
        self.state.count(operation)

        caller = self._authenticate(handler)
        if isinstance(caller, ApiError):
            self._reply_error(handler, caller)
            return

        fault = self._take_injected(operation) or self._random_fault()
        if self.latency_ms > 0 and self._serving.stopping.wait(self.latency_ms / 1000):
            handler.close_connection = True
            return
        if caller.access_key.startswith("EXPIRED"):
            fault = "expired-token"
        elif caller.access_key.startswith("DENIED"):
            fault = "access-denied"
        if fault is not None and fault != "endless-token":
            self._reply_fault(handler, fault, operation, caller, body)
            return

        try:
            params = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            self._reply_error(
                handler, ApiError("SerializationException", "The request body is not JSON.")
            )
            return
        if not isinstance(params, dict):
            self._reply_error(
                handler,
                ApiError("SerializationException", "The request body must be a JSON object."),
            )
            return
        problems = model.input_problems(operation, params)
        if problems:
            message = model.validation_message(problems)
            self._reply_error(handler, ApiError("InvalidParameterException", message))
            return
        try:
            result = self.state.handle(operation, params, caller.region)
        except ApiError as error:
            self._reply_error(handler, error)
            return
        if fault == "endless-token" and "NextToken" not in result:
            scope = params.get("OrganizationId") or caller.region
            result["NextToken"] = self.state.restart_token(operation, scope)
        body = json.dumps(to_wire(result, self.state.clock.to_wall)).encode()
        self._reply(handler, 200, body, JSON_CONTENT_TYPE)

    def _authenticate(self, handler: _RequestHandler) -> _Caller | ApiError:
        """The service's checks on the signature's form; the secret itself is not verified."""
        header = handler.headers.get("Authorization")
        if not header:
            return ApiError("MissingAuthenticationTokenException", "Missing Authentication Token")
        if not header.startswith("AWS4-HMAC-SHA256 "):
            return ApiError(
                "IncompleteSignatureException",
                "Authorization header requires 'AWS4-HMAC-SHA256' as the algorithm.",
            )
        for part in ("Credential", "SignedHeaders", "Signature"):
            if f"{part}=" not in header:
                return ApiError(
                    "IncompleteSignatureException",
                    f"Authorization header requires '{part}' parameter. Authorization={header}",
                )
        match = _CREDENTIAL.search(header)
        if match is None:
            return ApiError(
                "IncompleteSignatureException",
                "Authorization header's Credential is malformed: expected "
                "<key>/<date>/<region>/<service>/aws4_request.",
            )
        if match["service"] != model.SERVICE_NAME:
            return ApiError(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{model.SERVICE_NAME}'. ",
            )
        if not (handler.headers.get("X-Amz-Date") or handler.headers.get("Date")):
            return ApiError(
                "IncompleteSignatureException",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                "header.",
            )
        return _Caller(access_key=match["key"], region=match["region"])

    def _reply_fault(
        self,
        handler: _RequestHandler,
        fault: str,
        operation: str,
        caller: _Caller,
        body: bytes,
    ) -> None:
        if fault == "hang":
            # Read the request and never answer; the client's read timeout has to save it.
            self._serving.stopping.wait(self.hang_seconds)
            handler.close_connection = True
            return
        if fault == "500-html":
            self._reply(handler, 500, _HTML_500, "text/html; charset=utf-8")
            return
        errors = {
            "throttle": ApiError("ThrottlingException", "Rate exceeded"),
            "500": ApiError(
                "InternalFailure",
                "The request processing has failed because of an unknown error, exception or "
                "failure.",
                500,
            ),
            "503": ApiError("ServiceUnavailable", "Service is unavailable.", 503),
            "expired-token": ApiError(
                "ExpiredTokenException", "The security token included in the request is expired"
            ),
            "org-state": ApiError(
                "OrganizationStateException",
                "The organization must have a valid state to perform this operation.",
            ),
        }
        if fault == "access-denied":
            error = ApiError("AccessDeniedException", _denied_message(operation, caller, body))
        else:
            error = errors[fault]
        self._reply_error(handler, error)

    def _reply_error(self, handler: _RequestHandler, error: ApiError) -> None:
        payload: dict[str, str] = {"__type": error.code}
        if error.message:
            payload["Message"] = error.message
        self._reply(
            handler,
            error.status,
            json.dumps(payload).encode(),
            JSON_CONTENT_TYPE,
            {"x-amzn-ErrorType": error.code},
        )

    def _reply(
        self,
        handler: _RequestHandler,
        status: int,
        body: bytes,
        content_type: str,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in (extra_headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()


def _denied_message(operation: str, caller: _Caller, body: bytes) -> str:
    """IAM's wording, naming the action, as the real service answers a missing permission."""
    org_id = ""
    with contextlib.suppress(ValueError, UnicodeDecodeError, AttributeError):
        org_id = str(json.loads(body or b"{}").get("OrganizationId") or "")
    resource = f"arn:aws:workmail:{caller.region}:{ACCOUNT_ID}:organization/{org_id or '*'}"
    action = f"workmail:{operation}"
    return (
        f"User: arn:aws:iam::{ACCOUNT_ID}:user/wmtui-test is not authorized to perform: "
        f"{action} on resource: {resource} because no identity-based policy allows the "
        f"{action} action"
    )
