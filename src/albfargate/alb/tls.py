"""The local certificate authority and the listener certificates of HTTPS listeners.

A template's ACM certificate cannot be used locally, so on first use a CA (EC P-256, 10 years) is made
under ``<state_dir>/tls/ca.pem`` + ``ca.key`` (key mode 0600) and reused on every later run; each HTTPS
listener gets a leaf certificate for ``localhost``, ``127.0.0.1``, ``::1`` and the load balancer's DNS
name, signed by that CA and cached next to it (re-issued when it expires within 30 days or its names
change). To trust the CA: ``curl --cacert <state_dir>/tls/ca.pem``, or add ca.pem to the system / browser
trust store (docs/alb.md)."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "albfargate local CA"
_RENEW_BEFORE = dt.timedelta(days=30)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def ensure_ca(state_dir: Path) -> tuple[Path, Path]:
    """(ca.pem, ca.key) under ``<state_dir>/tls``, created on first use."""
    d = state_dir / "tls"
    d.mkdir(parents=True, exist_ok=True)
    cert_p, key_p = d / "ca.pem", d / "ca.key"
    if cert_p.exists() and key_p.exists():
        return cert_p, key_p
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_p, _key_pem(key))
    cert_p.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_p, key_p


def _san(names: Sequence[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return out


def listener_cert(state_dir: Path, label: str, names: Sequence[str]) -> tuple[Path, Path]:
    """(cert chain pem, key pem) for one listener, signed by the local CA; ``label`` names the files."""
    ca_cert_p, ca_key_p = ensure_ca(state_dir)
    d = state_dir / "tls"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    cert_p, key_p = d / f"{safe}.pem", d / f"{safe}.key"
    all_names = list(dict.fromkeys(["localhost", "127.0.0.1", "::1", *names]))
    if cert_p.exists() and key_p.exists():
        try:
            old = x509.load_pem_x509_certificates(cert_p.read_bytes())[0]
            san = old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            if old.not_valid_after_utc - _now() > _RENEW_BEFORE and set(san) == set(_san(all_names)):
                return cert_p, key_p
        except (ValueError, x509.ExtensionNotFound, IndexError):
            pass
    ca_cert = x509.load_pem_x509_certificate(ca_cert_p.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_p.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, all_names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=397))
        .add_extension(x509.SubjectAlternativeName(_san(all_names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(key_p, _key_pem(key))
    cert_p.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    return cert_p, key_p


def server_context(state_dir: Path, label: str, names: Sequence[str]) -> ssl.SSLContext:
    """An SSL context for an HTTPS listener (TLS 1.2+, HTTP/1.1 via ALPN)."""
    cert_p, key_p = listener_cert(state_dir, label, names)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_p, key_p)
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.sni_callback = _remember_sni
    return ctx


SNI_ATTRIBUTE = "albfargate_sni"


def _remember_sni(sslobj: object, server_name: str | None, _ctx: ssl.SSLContext) -> None:
    """Keep the client's SNI name on its SSL object (the access log's ``domain_name``)."""
    if server_name:
        with contextlib.suppress(AttributeError):
            setattr(sslobj, SNI_ATTRIBUTE, server_name)


def client_context(state_dir: Path) -> ssl.SSLContext:
    """A client context trusting the local CA (tests, tools)."""
    ca, _ = ensure_ca(state_dir)
    return ssl.create_default_context(cafile=str(ca))
