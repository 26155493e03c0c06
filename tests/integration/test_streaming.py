"""Bodies stream both ways with bounded memory (SPEC section 3). Run against the RELEASE build
(TENANTGATE_RELEASE_BIN): a sanitizer build's memory use is not representative."""

import hashlib
import os
import time

import pytest

from harness import stream_pattern, vm_hwm_kib

pytestmark = pytest.mark.release

MIB = 1 << 20
GIB = 1 << 30
RSS_LIMIT_KIB = 64 * 1024


@pytest.fixture
def release_gateway(gateway, release_bin):
    return gateway(binary=release_bin, workers=2)


def assert_peak_rss_bounded(proxy):
    hwm = vm_hwm_kib(proxy.pid)
    assert hwm < RSS_LIMIT_KIB, f"tenantgate peak RSS {hwm / 1024:.1f} MiB >= 64 MiB"


class PatternChecker:
    """Body sink: checks the fake's /stream pattern (byte i == i % 256) without keeping data.
    Pauses once after `pause_after` bytes to force backpressure on the proxy."""

    def __init__(self, pause_after: int = 0, pause: float = 0.0):
        self.offset = 0
        self.mismatch_at = None
        self.pattern = stream_pattern(0, 4 * MIB + 256)
        self.pause_after, self.pause = pause_after, pause

    def __call__(self, view) -> None:
        n = len(view)
        start = self.offset % 256
        expected = (self.pattern[start:start + n] if start + n <= len(self.pattern)
                    else stream_pattern(self.offset, n))
        if self.mismatch_at is None and bytes(view) != expected:
            self.mismatch_at = self.offset
        before, self.offset = self.offset, self.offset + n
        if self.pause and before < self.pause_after <= self.offset:
            # A deliberately slow reader: the proxy must stop reading from Odoo, not buffer.
            time.sleep(self.pause)


def download(gw, nbytes: int, chunked: bool):
    query = f"/stream?bytes={nbytes}" + ("&chunked=1" if chunked else "")
    checker = PatternChecker(pause_after=16 * MIB, pause=1.5)
    with gw.proxy.connect(timeout=30) as conn:
        conn.send_request("GET", query, gw.host)
        resp = conn.read_response(timeout=110, sink=checker)
    assert resp.status == 200, resp
    assert resp.body_length == nbytes, f"received {resp.body_length} of {nbytes} bytes"
    assert checker.mismatch_at is None, f"body corrupted at offset {checker.mismatch_at}"


def upload(gw, nbytes: int, chunked: bool):
    block = os.urandom(MIB)
    sha = hashlib.sha256()
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {nbytes}"
    with gw.proxy.connect(timeout=30) as conn:
        conn.send(f"POST /upload HTTP/1.1\r\nHost: {gw.host}\r\n{framing}\r\n\r\n".encode())
        sent, step = 0, (MIB - 7 if chunked else MIB)  # odd chunk sizes cross buffer edges
        while sent < nbytes:
            piece = block[:min(step, nbytes - sent)]
            sha.update(piece)
            conn.send(b"%x\r\n" % len(piece) + piece + b"\r\n" if chunked else piece)
            sent += len(piece)
        if chunked:
            conn.send(b"0\r\n\r\n")
        resp = conn.read_response(timeout=60)
    assert resp.status == 200, resp
    assert resp.json() == {"body_length": nbytes, "body_sha256": sha.hexdigest()}


def test_download_1gib_content_length(release_gateway):
    download(release_gateway, GIB, chunked=False)
    assert_peak_rss_bounded(release_gateway.proxy)


def test_download_256mib_chunked(release_gateway):
    download(release_gateway, 256 * MIB, chunked=True)
    assert_peak_rss_bounded(release_gateway.proxy)


def test_upload_100mib_content_length(release_gateway):
    upload(release_gateway, 100 * MIB, chunked=False)
    assert_peak_rss_bounded(release_gateway.proxy)


def test_upload_100mib_chunked(release_gateway):
    upload(release_gateway, 100 * MIB, chunked=True)
    assert_peak_rss_bounded(release_gateway.proxy)
