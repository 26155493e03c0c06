"""A throwaway PKI for the TLS tests, made with the `openssl` command line (Python's ssl module
cannot create certificates): root CA -> intermediate CA -> leaf certificates (RSA or ECDSA).

A leaf's certificate file is a chain file (leaf, then the intermediate), as a CA delivers it and
as a TLS listener must send it; its key file holds the leaf's private key (PKCS#8 PEM).
Clients are given only the root as trust anchor, so a handshake that verifies proves the server
sent the intermediate.
"""

from __future__ import annotations

import calendar
import os
import pathlib
import secrets
import shutil
import ssl
import subprocess
import time
from dataclasses import dataclass

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
OPENSSL_TIMEOUT = 60.0

_EXTENSIONS = """\
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, {key_usage}
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = {sans}
"""


def openssl(*args: str, stdin: bytes | None = None, check: bool = True,
            timeout: float = OPENSSL_TIMEOUT) -> subprocess.CompletedProcess:
    """Runs the openssl CLI (bounded); output captured as bytes."""
    proc = subprocess.run([OPENSSL, *args], input=stdin, capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed ({proc.returncode}): "
                             f"{proc.stderr.decode(errors='replace')}")
    return proc


def new_key(path: pathlib.Path, key_type: str) -> pathlib.Path:
    if key_type == "rsa":
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                "-out", str(path))
    elif key_type == "ecdsa":
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", str(path))
    else:
        raise ValueError(f"unknown key type {key_type!r}")
    os.chmod(path, 0o600)
    return path


def first_pem_der(pem_text: str) -> bytes:
    """DER of the first certificate in a PEM file's text."""
    end_marker = "-----END CERTIFICATE-----"
    end = pem_text.index(end_marker) + len(end_marker)
    return ssl.PEM_cert_to_DER_cert(pem_text[:end])


def describe_der(der: bytes) -> str:
    """'subject=..., serial=...' of a DER certificate (for assertion messages)."""
    out = openssl("x509", "-inform", "DER", "-noout", "-subject", "-serial",
                  "-ext", "subjectAltName", stdin=der, check=False)
    return " ".join(out.stdout.decode(errors="replace").split())


@dataclass
class Leaf:
    """One issued leaf. Files are written by write_to(); the object itself is immutable data."""
    label: str
    names: tuple
    key_type: str
    serial: int
    chain_pem: bytes   # leaf + intermediate
    key_pem: bytes
    der: bytes         # the leaf alone, DER (what a client sees as the peer certificate)
    not_after: int     # Unix time

    def write_to(self, cert_path: pathlib.Path, key_path: pathlib.Path,
                 atomic: bool = False) -> None:
        """Writes the chain and key files. atomic=True replaces them by rename (as a Kubernetes
        secret volume's symlink swap or an editor does); otherwise rewritten in place (as
        cert-manager's or `cp`)."""
        for path, data, mode in ((key_path, self.key_pem, 0o600), (cert_path, self.chain_pem, 0o644)):
            if atomic:
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_bytes(data)
                os.chmod(tmp, mode)
                os.replace(tmp, path)
            else:
                path.write_bytes(data)
                os.chmod(path, mode)


class CA:
    """Root CA -> intermediate CA, in `directory`; issue() makes leaves."""

    def __init__(self, directory: pathlib.Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.root_key = new_key(self.dir / "root.key", "ecdsa")
        self.root_pem = self.dir / "root.pem"
        openssl("req", "-x509", "-new", "-key", str(self.root_key), "-sha256", "-days", "3650",
                "-subj", "/O=tenantgate tests/CN=tenantgate test root CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-addext", "subjectKeyIdentifier=hash",
                "-out", str(self.root_pem))
        self.inter_key = new_key(self.dir / "intermediate.key", "ecdsa")
        self.inter_pem = self.dir / "intermediate.pem"
        csr = self.dir / "intermediate.csr"
        openssl("req", "-new", "-key", str(self.inter_key),
                "-subj", "/O=tenantgate tests/CN=tenantgate test intermediate CA", "-out", str(csr))
        ext = self._extfile("intermediate", "digitalSignature", "DNS:unused.invalid")
        openssl("x509", "-req", "-in", str(csr), "-CA", str(self.root_pem),
                "-CAkey", str(self.root_key), "-set_serial", str(self._serial()), "-sha256",
                "-days", "1825", "-extfile", str(ext), "-extensions", "ca",
                "-out", str(self.inter_pem))
        self.inter_pem_bytes = self.inter_pem.read_bytes()
        self._count = 0

    @staticmethod
    def _serial() -> int:
        return secrets.randbits(62) | (1 << 62)

    def _extfile(self, stem: str, key_usage: str, sans: str) -> pathlib.Path:
        path = self.dir / f"{stem}.ext"
        path.write_text(_EXTENSIONS.format(key_usage=key_usage, sans=sans))
        return path

    def issue(self, label: str, names, key_type: str, days: int = 90) -> Leaf:
        """A leaf for `names` (its SAN DNS names; the first is also the CN), signed by the
        intermediate, with a fresh key and a fresh random serial."""
        self._count += 1
        stem = f"leaf{self._count}-{label}"
        key = new_key(self.dir / f"{stem}.key", key_type)
        csr = self.dir / f"{stem}.csr"
        openssl("req", "-new", "-key", str(key), "-subj", f"/CN={names[0]}", "-out", str(csr))
        usage = "digitalSignature, keyEncipherment" if key_type == "rsa" else "digitalSignature"
        ext = self._extfile(stem, usage, ", ".join(f"DNS:{n}" for n in names))
        pem = self.dir / f"{stem}.pem"
        serial = self._serial()
        openssl("x509", "-req", "-in", str(csr), "-CA", str(self.inter_pem),
                "-CAkey", str(self.inter_key), "-set_serial", str(serial), "-sha256",
                "-days", str(days), "-extfile", str(ext), "-extensions", "leaf", "-out", str(pem))
        leaf_pem = pem.read_bytes()
        end = openssl("x509", "-in", str(pem), "-noout", "-enddate").stdout.decode().strip()
        not_after = int(_parse_openssl_date(end.split("=", 1)[1]))
        return Leaf(label, tuple(names), key_type, serial, leaf_pem + self.inter_pem_bytes,
                    key.read_bytes(), first_pem_der(leaf_pem.decode()), not_after)


def _parse_openssl_date(text: str) -> float:
    """'Jun  1 12:00:00 2031 GMT' -> Unix time."""
    return calendar.timegm(time.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y %Z"))
