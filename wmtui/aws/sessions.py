"""One way to make a boto3 session: from the given keys, else from a profile (or the default
chain), optionally with a faster timestamp parser for the answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any


def new_session(
    *,
    profile: str | None,
    credentials: tuple[str, str] | None,
    region: str | None,
    timestamp_parser: Callable[[Any], datetime] | None = None,
) -> Any:
    """A boto3 Session; boto3 is imported here, on the first call, never before."""
    import boto3.session

    if credentials is not None:
        key, secret = credentials
        session = boto3.session.Session(
            aws_access_key_id=key, aws_secret_access_key=secret, region_name=region
        )
    else:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    if timestamp_parser is not None:
        factory = session._session.get_component("response_parser_factory")
        factory.set_parser_defaults(timestamp_parser=timestamp_parser)
    return session
