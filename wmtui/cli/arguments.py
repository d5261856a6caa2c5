"""The command line's values checked and turned into what the commands work with."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlparse

from wmtui.cli.errors import EXIT_BAD_PARAMETERS, EXIT_CONFIGURATION, CliError
from wmtui.cli.output import error_line, note
from wmtui.core.models import (
    WORKMAIL_REGIONS,
    JobKey,
    ValidationError,
    validate_job_id,
    validate_organization_id,
    validate_region,
)
from wmtui.core.settings import Settings
from wmtui.core.watchlist import WatchListError
from wmtui.factory import Backend


def split_ids(values: Iterable[str]) -> list[str]:
    """IDs given one per argument, or comma or space separated inside one."""
    return [part for value in values for part in re.split(r"[,\s]+", value) if part]


_OVERRIDES: Mapping[str, Callable[[Any], tuple[str, object]]] = {
    "profile": lambda v: ("profile", v),
    "region": lambda v: ("region", v),
    "endpoint_url": lambda v: ("endpoint_url", v),
    "config_dir": lambda v: ("config_dir", v),
    "interval": lambda v: ("interval", v),
    "read_only": lambda v: ("read_only", bool(v)),
    "no_bell": lambda v: ("bell", not v),
    "demo": lambda v: ("demo", bool(v)),
    "notify_command": lambda v: ("notify_command", v),
}


def settings_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The Settings fields given on the command line (absent options are not there at all)."""
    given = vars(args)
    return dict(convert(given[name]) for name, convert in _OVERRIDES.items() if name in given)


def check_endpoint_url(url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValidationError("endpoint URL", url, "must be an http:// or https:// URL with a host")


def _watched_region(backend: Backend, organization_id: str) -> str | None:
    """The region the watch list has the organization in (an organization lives in one), or
    else its profile's region; reading the list also tells the router the profiles."""
    try:
        watched = backend.watchlist.load()
    except WatchListError:
        return None  # the commands that need the list say so themselves
    for key in watched:
        if key.organization_id == organization_id:
            return key.region
    return None


def resolve_region(backend: Backend, organization_id: str | None = None) -> str:
    """--region, else the region the watch list has `organization_id` in, else AWS_REGION or
    the profile's region; validated (any region for an endpoint)."""
    region = backend.settings.region
    if not region and organization_id:
        region = _watched_region(backend, organization_id)
    if not region:
        # Boto3ExportService reads the profile's region without calling anything.
        region = getattr(backend.service, "default_region", None)
    if not region:
        raise CliError(
            "no region is set",
            "pass --region (one of " + ", ".join(WORKMAIL_REGIONS) + "), set AWS_REGION, "
            "or set region in your AWS profile",
            EXIT_CONFIGURATION,
        )
    return validate_region(region, endpoint_url=backend.settings.endpoint_url)


def keys_from_args(backend: Backend, organization_id: str, job_ids: Iterable[str]) -> list[JobKey]:
    """Every key, validated first: one bad value and nothing is written."""
    organization = validate_organization_id(organization_id)
    ids = split_ids(job_ids)
    if not ids:
        raise ValidationError("job ID", "", "at least one job ID is needed")
    problems: list[ValidationError] = []
    for job_id in ids:
        try:
            validate_job_id(job_id)
        except ValidationError as exc:
            problems.append(exc)
    if problems:
        # Each bad value on its own line; the last one is raised for the exit code.
        for extra in problems[:-1]:
            note(error_line(str(extra)))
        raise problems[-1]
    region = resolve_region(backend, organization)
    return list(dict.fromkeys(JobKey(region, organization, job_id) for job_id in ids))


def refuse_if_read_only(settings: Settings, action: str) -> None:
    if settings.read_only:
        raise CliError(
            f"refused: read-only mode does not {action}",
            "drop --read-only, or set read_only = false in config.toml",
            EXIT_BAD_PARAMETERS,
        )
