"""y and Y: copy the selected job's s3:// URI, or a presigned HTTPS link to its export file.

The clipboard chain may call tmux or a clipboard tool (subprocesses), and presigning builds an
S3 client the first time: both run in thread workers, never on the UI thread.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from wmtui.core.models import ExportJob, JobState
from wmtui.core.service import ServiceError
from wmtui.ui.clipboard import yank
from wmtui.ui.flows.calls import call_service
from wmtui.ui.messages import DownloadUrlFailed, YankFinished
from wmtui.ui.safe_text import sanitize
from wmtui.ui.widgets.cells import short_span

if TYPE_CHECKING:
    from textual.message import Message

    from wmtui.ui.screens.jobs import JobsScreen

NOTIFY_TIMEOUT = 8.0


def https_url_problem(url: str) -> str | None:
    """Why `url` is not a plain https URL that is safe to paste, or None."""
    if not isinstance(url, str) or not url.startswith("https://"):
        return f"the service made no https URL ({sanitize(str(url)[:40])}…)"
    for ch in url:
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp", "Zs"):
            return "the URL holds whitespace or a control character: not copied"
    return None


def download_refusal(job: ExportJob | None, job_id: str) -> str | None:
    """Why no download URL can be made for the job, or None when one can."""
    if job is None or job.last_seen is None:
        return f"Job {job_id} has not been read yet: nothing to download."
    if job.state is JobState.RUNNING:
        progress = f" ({job.progress}%)" if job.progress is not None else ""
        return (
            f"Job {job_id} is still RUNNING{progress}: its export file can be downloaded"
            " once it is COMPLETED."
        )
    if job.state is JobState.FAILED:
        return f"Job {job_id} FAILED: it wrote no export file to download."
    if job.state is JobState.CANCELLED:
        return f"Job {job_id} was CANCELLED: there is no complete export file."
    if job.state is not JobState.COMPLETED:
        return f"Job {job_id} is not COMPLETED: nothing to download."
    if not job.s3_uri:
        return f"Job {job_id} has no usable S3 path: no URL can be made."
    return None


class CopyFlow:
    def __init__(self, screen: JobsScreen) -> None:
        self.screen = screen

    def _osc52_from_thread(self, text: str) -> None:
        self.screen.app.call_from_thread(self.screen.app.copy_to_clipboard, text)

    @property
    def presign_expiry(self) -> int:
        return int(getattr(self.screen.settings, "presign_expiry", 3600) or 3600)

    def yank(self) -> None:
        screen = self.screen
        key = screen.selected_key()
        if key is None:
            screen.notify("No job selected.", severity="warning", markup=False)
            return
        job = screen.board.jobs.get(key)
        uri = job.s3_uri if job is not None else None
        if not uri and job is not None and job.s3_path:
            # The service gave a path, but not one that is safe to paste into a shell.
            screen.notify(
                f"Not copied: the S3 path of job {sanitize(key.job_id)} holds characters an S3"
                f" path may not hold, so it is not safe to paste: {sanitize(job.s3_path)}"
                f" (bucket {sanitize(job.s3_bucket_name or '?')})",
                severity="error",
                markup=False,
                timeout=12,
            )
            return
        if not uri:
            state = job.state.value if job is not None and job.last_seen else "not read yet"
            screen.notify(
                f"Job {sanitize(key.job_id)} has no S3 path yet ({state}): nothing to copy.",
                severity="warning",
                markup=False,
            )
            return
        mode = screen.settings.clipboard

        def copy() -> None:
            # tmux and clipboard tools are subprocesses: a stuck one must not freeze the UI.
            report = yank(uri, osc52=self._osc52_from_thread, mode=mode)
            screen.post_message(YankFinished(report, key))

        screen.run_worker(
            copy, thread=True, group="yank", exit_on_error=False, description="yank an S3 URI"
        )

    def presign(self) -> None:
        screen = self.screen
        key = screen.selected_key()
        if key is None:
            screen.notify("No job selected.", severity="warning", markup=False)
            return
        job = screen.board.jobs.get(key)
        why_not = download_refusal(job, sanitize(key.job_id))
        if why_not is not None or job is None:
            screen.notify(why_not or "", severity="warning", markup=False)
            return
        service, expiry = screen.service, self.presign_expiry
        call_service(
            screen,
            lambda: service.presign_url(job, expiry),
            lambda url, error: self._copy_url(job, url, error),
            group="yank",
            description="presign a download URL",
        )

    def _copy_url(self, job: ExportJob, url: str | None, error: ServiceError | None) -> Message:
        """From the worker: copy a good URL, or say why there is none."""
        if error is not None or url is None:
            return DownloadUrlFailed(job.key, str(error) if error is not None else "no URL")
        problem_with_url = https_url_problem(url)
        if problem_with_url is not None:
            return DownloadUrlFailed(job.key, problem_with_url)
        report = yank(url, osc52=self._osc52_from_thread, mode=self.screen.settings.clipboard)
        return YankFinished(report, job.key)

    def finished(self, message: YankFinished) -> None:
        report = message.report
        text = report.message
        if report.text.startswith("https://"):
            expiry = short_span(self.presign_expiry)
            text = f"Download URL (presigned, valid for {expiry}). {text}"
        self.screen.notify(text, severity=report.severity, markup=False, timeout=NOTIFY_TIMEOUT)

    def failed(self, message: DownloadUrlFailed) -> None:
        self.screen.notify(
            f"No download URL for job {sanitize(message.key.job_id)}: "
            + sanitize(message.problem, limit=400),
            severity="error",
            markup=False,
            timeout=12,
        )
