"""The keys, once: the footer, the help screen, the command palette and the README come from here.

`APP_BINDINGS` are the jobs screen's keys (plus quit, which the app keeps); `key_help()` groups
every key wmtui defines by action, in the order people meet them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from textual.binding import Binding, BindingType

from wmtui.ui.screens.help import HelpRow
from wmtui.ui.widgets.detail import DetailPane
from wmtui.ui.widgets.job_table import JobTable

# Actions that change something in WorkMail: hidden and refused with --read-only.
WRITE_ACTIONS = frozenset({"start_export", "cancel_export", "export_org"})

JOBS_BINDINGS: list[BindingType] = [
    Binding(
        "r",
        "refresh",
        "Refresh",
        tooltip="Refresh now: every job not finished, and the selected one",
    ),
    Binding(
        "y", "yank", "Copy S3 URI", tooltip="Copy the selected job's s3:// URI to the clipboard"
    ),
    Binding(
        "Y",
        "yank_download_url",
        "Copy download URL",
        show=False,
        tooltip="Copy a presigned HTTPS link to the selected COMPLETED export (no AWS keys"
        " needed to fetch it)",
    ),
    Binding("n", "start_export", "Start", tooltip="Start one mailbox export (asks first)"),
    Binding(
        "c", "cancel_export", "Cancel", tooltip="Cancel the selected RUNNING export (asks first)"
    ),
    Binding(
        "E",
        "export_org",
        "Export org",
        tooltip="Export every mailbox of an organization within WorkMail's limits, resumably",
    ),
    Binding(
        "m",
        "mailboxes",
        "Mailboxes",
        show=False,
        tooltip="Every mailbox of the selected job's organization: what is left, the deadline",
    ),
    Binding(
        "O",
        "org_exports",
        "Organization exports",
        show=False,
        tooltip="Every saved organization export: running (here or elsewhere), paused, finished",
    ),
    Binding(
        "v",
        "verify",
        "Verify",
        show=False,
        tooltip="Check the selected COMPLETED export in S3 now: there, not empty, with its KMS key",
    ),
    Binding(
        "V",
        "verify_all",
        "Verify all",
        show=False,
        tooltip="Check every COMPLETED export in view in S3, in parallel",
    ),
    Binding("a", "add", "Add jobs", tooltip="Watch jobs by region, organization and job IDs"),
    Binding(
        "d,delete",
        "remove",
        "Remove",
        tooltip="Stop watching the selected job (asks first; the export is not touched)",
    ),
    Binding(
        "i",
        "import",
        "Import",
        show=False,
        tooltip="Import an organization's jobs of the last 7 days",
    ),
    Binding(
        "slash",
        "filter",
        "Filter",
        tooltip="Filter on every column; profile:NAME keeps one AWS profile's jobs (Enter keeps"
        " it, Esc clears)",
    ),
    Binding(
        "escape", "clear_filter", "Clear filter", show=False, tooltip="Clear and hide the filter"
    ),
    Binding(
        "s",
        "cycle_sort",
        "Sort",
        show=False,
        tooltip="Cycle the sort: start time, state, progress, mailbox name",
    ),
    Binding(
        "S",
        "reverse_sort",
        "Reverse sort",
        show=False,
        tooltip="The same sort, the other way round",
    ),
    Binding(
        "p",
        "toggle_pause",
        "Pause",
        show=False,
        tooltip="Pause or resume the automatic refresh",
    ),
    Binding(
        "N",
        "reload_names",
        "Reload names",
        show=False,
        tooltip="Read the mailbox names of the selected job's organization again",
    ),
    Binding(
        "M",
        "move_watchlist_aside",
        "Move watch list aside",
        tooltip="Rename an unreadable watch list to a backup and start a new one",
    ),
    Binding(
        "L",
        "app.show_trail",
        "Trail",
        show=False,
        tooltip="The trail: every start and cancel, by whom and how it ended, newest first",
    ),
    Binding(
        "D",
        "app.doctor",
        "Doctor",
        show=False,
        tooltip="Check the selected job's set-up: role, KMS key, bucket (read-only calls)",
    ),
    Binding("question_mark", "help", "Help", tooltip="Show every key"),
]
# The app's own: quitting works on every screen.
QUIT_BINDINGS: list[BindingType] = [
    Binding("q", "quit", "Quit", tooltip="Quit wmtui"),
    Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
]

# With --read-only the jobs screen's write keys are off (hidden from the footer and help); the
# key press then reaches the app, which says why instead of doing nothing.
READ_ONLY_BINDINGS: list[BindingType] = [
    Binding(binding.key, f"refuse_read_only('{binding.action}')", show=False)
    for binding in JOBS_BINDINGS
    if isinstance(binding, Binding) and binding.action in WRITE_ACTIONS
]

_KEY_LABELS = {
    "up": "↑",
    "down": "↓",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "home": "Home",
    "end": "End",
    "enter": "Enter",
    "tab": "Tab",
    "shift+tab": "Shift+Tab",
    "escape": "Esc",
    "delete": "Delete",
    "slash": "/",
    "question_mark": "?",
}


def key_label(key: str) -> str:
    """How a key is written for people: '↓', 'PgDn', 'Ctrl+C', '?'."""
    if key in _KEY_LABELS:
        return _KEY_LABELS[key]
    if key.startswith("ctrl+"):
        return "Ctrl+" + key_label(key[5:]).upper()
    return key


@dataclass(frozen=True)
class KeyHelp:
    keys: tuple[str, ...]
    action: str
    description: str
    tooltip: str

    @property
    def keys_label(self) -> str:
        return " / ".join(key_label(key) for key in self.keys)


def _bindings(source: Iterable[BindingType]) -> Iterator[Binding]:
    for item in source:
        if isinstance(item, Binding):
            yield item
        else:
            yield from Binding.make_bindings([item])


def key_help() -> list[KeyHelp]:
    """Every key wmtui defines, grouped by action, in the order people meet them."""
    groups: dict[str, KeyHelp] = {}
    sources: list[tuple[str, Iterable[BindingType]]] = [
        ("table", JobTable.BINDINGS),
        ("detail", DetailPane.BINDINGS),
        ("app", [*JOBS_BINDINGS, *QUIT_BINDINGS]),
    ]
    for scope, source in sources:
        for binding in _bindings(source):
            action = binding.action.removeprefix("app.").removeprefix("screen.")
            group = f"{scope}:{action}" if scope != "app" else action
            keys = tuple(key.strip() for key in binding.key.split(","))
            if group in groups:
                known = groups[group]
                merged = known.keys + tuple(k for k in keys if k not in known.keys)
                groups[group] = KeyHelp(merged, action, known.description, known.tooltip)
            else:
                description = binding.description or action
                groups[group] = KeyHelp(keys, action, description, binding.tooltip or description)
    rows = list(groups.values())
    palette = KeyHelp(("ctrl+p",), "command_palette", "Commands", "Open the command palette")
    quit_at = next((i for i, row in enumerate(rows) if row.action == "quit"), len(rows))
    rows.insert(quit_at, palette)
    return rows


def binding_table() -> list[tuple[str, str]]:
    """(keys, description) for every key, as the help screen and the README show them."""
    return [(row.keys_label, row.description) for row in key_help()]


def help_rows() -> list[HelpRow]:
    return [(row.keys_label, row.description, row.tooltip) for row in key_help()]
