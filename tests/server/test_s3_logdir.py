"""Logdirs on S3, a supported path: moto's S3 server on 127.0.0.1 holds a
logdir written locally and uploaded (the "write locally, sync" recipe) and
one written by ``SummaryWriter`` straight to ``s3://``; the real
``tensorboard`` with ``--load_fast=false`` serves every route of the plugin
from them exactly as from the same logdir on disk, through TensorBoard's own
boto3 file system (``s3://``, ``S3_ENDPOINT``) and through fsspec's s3fs
(what ``s3://`` uses without boto3; reached here as ``s3a://``, a scheme
only fsspec knows). The plugin's own file reading (``event_blobs``, for
names the Rust data server cannot carry) reads ``s3://`` paths too.

Every address is 127.0.0.1; the credentials are moto's dummies, and the
AWS configuration files of the machine are ignored.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Iterator

import boto3
import fsspec
import pytest
import s3fs
from moto.server import ThreadedMotoServer
from tensorboard.compat.tensorflow_stub.io import gfile
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server import event_blobs
from tests.support import route_answers
from tests.support.events import free_port
from tests.support.tensorboard_server import tensorboard_server

pytestmark = pytest.mark.subprocess

BUCKET = "tb-logs"
#: Where the uploaded copy of the local logdir lies in the bucket.
SYNCED = "synced"
#: (scheme, the variable naming the endpoint, the file system TensorBoard reads it with)
READERS = [
    pytest.param("s3", "S3_ENDPOINT", gfile.S3FileSystem, id="s3-tensorboard-boto3"),
    pytest.param("s3a", "AWS_ENDPOINT_URL", gfile.FSSpecFileSystem, id="fsspec-s3fs"),
]


@pytest.fixture(scope="module")
def s3(tmp_path_factory) -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 with an empty bucket ``BUCKET``; while it
    runs, this process (and every subprocess it starts) reaches it through
    ``AWS_ENDPOINT_URL`` with dummy credentials. Yields the endpoint URL."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    missing = str(tmp_path_factory.mktemp("aws") / "none")
    env = dict(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               AWS_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint, AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=missing, AWS_SHARED_CREDENTIALS_FILE=missing)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "S3_ENDPOINT"):
            patch.delenv(name, raising=False)
        server.start()
        try:
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            yield endpoint
        finally:
            server.stop()


@pytest.fixture(scope="module")
def local_logdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("s3_local")
    route_answers.write_logdir(str(root), SummaryWriter)
    return root


@pytest.fixture(scope="module")
def synced(s3, local_logdir) -> str:
    """``BUCKET/SYNCED``: every file of the local logdir uploaded (what
    ``aws s3 sync`` does), without the scheme."""
    client = boto3.client("s3")
    for path in local_logdir.rglob("*"):
        if path.is_file():
            client.upload_file(str(path), BUCKET, f"{SYNCED}/{path.relative_to(local_logdir).as_posix()}")
    return f"{BUCKET}/{SYNCED}"


@pytest.fixture(scope="module")
def on_disk(local_logdir, tmp_path_factory) -> Dict[str, route_answers.Answer]:
    """Every route's answer over the local logdir (``--load_fast=false``)."""
    with tensorboard_server(str(local_logdir), False, tmp_dir=str(tmp_path_factory.mktemp("disk_tb"))) as server:
        route_answers.wait_for_listing(server)
        reference = route_answers.answers(server, route_answers.route_urls())
    route_answers.check_served(reference)
    return reference


def served_from(logdir: str, tmp_path: Path) -> Dict[str, route_answers.Answer]:
    """Every route's answer of a real ``tensorboard --load_fast=false`` over the remote ``logdir``."""
    with tensorboard_server(logdir, False, tmp_dir=str(tmp_path)) as server:
        route_answers.wait_for_listing(server)
        served = route_answers.answers(server, route_answers.route_urls())
        log = server.log()
    assert "Traceback" not in log, log[-3000:]
    return served


@pytest.mark.parametrize("scheme, endpoint_variable, file_system", READERS)
def test_synced_logdir_serves_every_route_as_on_disk(s3, synced, on_disk, scheme, endpoint_variable, file_system,
                                                     tmp_path, monkeypatch):
    assert isinstance(gfile.get_filesystem(f"{scheme}://{synced}"), file_system)
    if scheme != "s3":
        assert fsspec.get_filesystem_class(scheme) is s3fs.S3FileSystem
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # each file system gets its endpoint from its own variable only
    monkeypatch.setenv(endpoint_variable, s3)
    served = served_from(f"{scheme}://{synced}", tmp_path)
    different = route_answers.differences(on_disk, served)
    assert not different, "\n".join(different[:10])


def test_summary_writer_writes_straight_to_s3(s3, on_disk, tmp_path):
    logdir = f"s3://{BUCKET}/direct"
    route_answers.write_logdir(logdir, SummaryWriter)
    keys = [item["Key"] for item in boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="direct/")["Contents"]]
    runs = {key.split("/events.out")[0] for key in keys if "/events.out" in key}
    assert runs == {f"direct/{run}" for run in route_answers.RUNS}, keys
    different = route_answers.differences(on_disk, served_from(logdir, tmp_path))
    assert not different, "\n".join(different[:10])


def test_event_blobs_read_s3_paths(s3, synced, local_logdir):
    """The plugin's fallback reader (``event_blobs``), reached under the
    Rust data server only, reads an ``s3://`` logdir as a local one."""
    tag = metadata.examples_tag(route_answers.TAG)
    for run in route_answers.RUNS:
        for step in route_answers.STEPS:
            local = event_blobs.read_blob_sequence(str(local_logdir), run, tag, step)
            assert local and len(local) >= 2
            assert event_blobs.read_blob_sequence(f"s3://{synced}", run, tag, step) == local
    assert event_blobs.read_blob_sequence(f"s3://{synced}", "no such run", tag, 0) is None
    assert os.environ["AWS_ENDPOINT_URL"] == s3
