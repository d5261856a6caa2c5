"""The README's two notification scripts do what it says: a chat webhook on 127.0.0.1 gets the
message, and moto's SNS gets the event. Skipped where jq, curl or the AWS CLI is missing."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.core.notify import Event, Notifier, job_event, notify_state_path

README = Path(__file__).resolve().parent.parent / "README.md"
ORG = "m-0123456789abcdef0123456789abcdef"


def readme_scripts() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Notifications", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def install(tmp_path: Path, name: str, body: str) -> str:
    script = tmp_path / name
    script.write_text(body)
    script.chmod(0o700)
    return str(script)


def completed_event() -> Event:
    job = ExportJob(
        key=JobKey("us-east-1", ORG, "job-7"),
        state=JobState.COMPLETED,
        entity_id="alice@example.com",
        s3_bucket_name="bucket",
        s3_path="bucket/exports/job-7.zip",
    )
    event = job_event(job)
    assert event is not None
    return event


def test_the_readme_has_two_scripts_of_two_lines() -> None:
    scripts = readme_scripts()
    assert len(scripts) == 2
    assert all(len(script.strip().splitlines()) == 2 for script in scripts)


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(not (shutil.which("jq") and shutil.which("curl")), reason="no jq or curl")
def test_the_webhook_script_posts_the_message(
    tmp_path: Path, webhook: tuple[str, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = webhook
    monkeypatch.setenv("WEBHOOK_URL", url)
    command = install(tmp_path, "to-chat", readme_scripts()[0])
    event = completed_event()
    [delivery] = Notifier(command, notify_state_path(tmp_path)).send([event])
    assert delivery.sent, delivery.problem
    [body] = received
    assert json.loads(body) == {"text": "wmtui: job_completed alice@example.com COMPLETED"}


@pytest.mark.skipif(not shutil.which("aws"), reason="no AWS CLI")
def test_the_sns_script_publishes_the_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aws_credentials: None
) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        for service in ("SNS", "SQS"):
            monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", f"http://{host}:{port}")
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="wmtui")["TopicArn"]
        queue = sqs.create_queue(QueueName="heard")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
        script = readme_scripts()[1]
        assert topic in script  # the README's ARN is moto's: account 123456789012, us-east-1
        command = install(tmp_path, "to-sns", script)
        event = completed_event()
        [delivery] = Notifier(command, notify_state_path(tmp_path), timeout=60).send([event])
        assert delivery.sent, delivery.problem
        [message] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    finally:
        server.stop()
    published = json.loads(json.loads(message["Body"])["Message"])
    assert published["event"] == "job_completed" and published["job_id"] == "job-7"
