"""A site's own certificate authority and the certificates of its hubs and stations (``packgate site tls``).

``make_ca(folder, name)`` writes ``site-ca.pem`` (the certificate every station, CLI and hub trusts with
``upstream.ca_file``) and ``site-ca.key``; ``issue(folder, name, hosts)`` signs ``<name>.pem`` (the certificate,
then the CA's: the chain a server presents) and ``<name>.key`` for the host names and IP addresses the machine is
reached by (its subjectAltName; ``localhost`` and 127.0.0.1 are added for a station's own kiosk).

Invariants: private keys are written 0600 and never overwritten (an existing file is an error, naming it); keys are
ECDSA P-256; a server certificate is valid ``SERVER_DAYS`` (825, the most browsers accept), the CA ten years.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from packgate.sync.errors import HubConfigError

CA_DAYS = 3650
SERVER_DAYS = 825
CA_CERT, CA_KEY = "site-ca.pem", "site-ca.key"


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path
    names: tuple[str, ...]
    not_after: datetime


def _write_new(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise HubConfigError(f"{path} exists already; move it away first (nothing was written)") from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, mode)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(folder: str | Path, name: str, *, now: datetime | None = None, days: int = CA_DAYS) -> Issued:
    """A new site CA in ``folder`` (created 0700 if missing)."""
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for file in (CA_CERT, CA_KEY):
        if (folder / file).exists():
            raise HubConfigError(f"{folder / file} exists already: this folder holds a CA (nothing was written)")
    now = now or datetime.now(timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} packgate site CA"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write_new(folder / CA_KEY, _key_pem(key), 0o600)
    _write_new(folder / CA_CERT, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return Issued(folder / CA_CERT, folder / CA_KEY, (name,), cert.not_valid_after_utc)


def _load_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
        key = serialization.load_pem_private_key((folder / CA_KEY).read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise HubConfigError(f"no site CA in {folder} ({exc.filename} missing): make one with packgate site tls ca"
                             ) from exc
    except ValueError as exc:
        raise HubConfigError(f"the site CA in {folder} cannot be read: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise HubConfigError(f"{folder / CA_KEY} is not the key packgate site tls ca writes")
    return cert, key


def _alt_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        if not host or any(c.isspace() for c in host) or "/" in host:
            raise HubConfigError(f"{host!r} is neither a host name nor an IP address") from None
        return x509.DNSName(host)


def issue(folder: str | Path, name: str, hosts: list[str], *, out: str | Path | None = None,
          now: datetime | None = None, days: int = SERVER_DAYS, local: bool = True) -> Issued:
    """A server certificate signed by the CA in ``folder`` for ``hosts`` (names and IP addresses), written as
    ``<out>/<name>.pem`` (with the CA's certificate after it) and ``<name>.key``. ``local`` adds localhost and
    127.0.0.1 (the kiosk on a station PC reaches its own agent by them)."""
    folder = Path(folder)
    target = Path(out) if out is not None else folder
    if not name or "/" in name or name.startswith("."):
        raise HubConfigError(f"{name!r} cannot name a certificate file")
    names = list(dict.fromkeys([*hosts, *(["localhost", "127.0.0.1"] if local else [])]))
    if not names:
        raise HubConfigError("name at least one host name or IP address the machine is reached by (--host)")
    ca_cert, ca_key = _load_ca(folder)
    now = now or datetime.now(timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    first = next((n for n in names if not n[0].isdigit() and ":" not in n), names[0])
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([_alt_name(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for file in (target / f"{name}.key", target / f"{name}.pem"):
        if file.exists():
            raise HubConfigError(f"{file} exists already; move it away first (nothing was written)")
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    _write_new(target / f"{name}.key", _key_pem(key), 0o600)
    _write_new(target / f"{name}.pem", chain, 0o644)
    return Issued(target / f"{name}.pem", target / f"{name}.key", tuple(names), cert.not_valid_after_utc)
