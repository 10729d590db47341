"""RSA public keys as Snowflake takes them, and refusal of anything else.

Snowflake's RSA_PUBLIC_KEY is the base64 body of a SubjectPublicKeyInfo (PEM without its header
lines). People paste PEM, bare base64, PKCS#1 "RSA PUBLIC KEY" or OpenSSH keys; all are normalised
to that body. A private key is refused with a message that says so; the key text itself never appears
in a message, so callers can show or log errors safely.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core.fields import FieldError

MIN_RSA_BITS = 2048

PRIVATE_KEY_MESSAGE = (
    "holds a PRIVATE key. Paste the PUBLIC key (rsa_key.pub) instead; the private key must never "
    "leave your machine. It was not stored."
)


@dataclass(frozen=True)
class PublicKey:
    body: str  # single-line base64 of the DER SubjectPublicKeyInfo, as RSA_PUBLIC_KEY takes it
    bits: int
    fingerprint: str  # as Snowflake shows it in DESC USER: "SHA256:<base64>"


def _looks_private(text: str) -> bool:
    if "PRIVATE KEY" in text.upper():
        return True
    if text.startswith("-----BEGIN OPENSSH PRIVATE"):
        return True
    try:
        der = base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        return False
    if der.startswith(b"openssh-key-v1\x00"):  # the body of an OpenSSH private key (ssh-keygen's default format)
        return True
    try:
        serialization.load_der_private_key(der, password=None)
        return True
    except TypeError:  # an encrypted private key: it still is one
        return True
    except Exception:
        return False


# A PEM or OpenSSH private key block, PuTTY's key file, or a run of base64 long enough to be a key's body.
_PRIVATE_BLOCK = re.compile(r"-----\s*BEGIN[A-Z0-9 ]*PRIVATE KEY\s*-----|PuTTY-User-Key-File-\d|PRIVATE-KEY-\d", re.I)
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/]{4,}={0,2})*")
MAX_SCANNED = 1_000_000  # characters of one value looked at; longer values are refused by their field first


def contains_private_key(text: object) -> bool:
    """True if free text (a justification, a comment, a name) holds a private key: a PEM or OpenSSH
    "PRIVATE KEY" block, a PuTTY key, or a bare base64 body that decodes to a private key. Words such as
    "my private key expired" do not count. Linear in the text's length."""
    value = str(text or "")[:MAX_SCANNED]
    if _PRIVATE_BLOCK.search(value):
        return True
    for run in _BASE64_RUN.finditer(value):
        lines = run.group(0).split()
        # The whole run (a wrapped body), without a word glued on either end, or one line alone.
        candidates = {"".join(lines), "".join(lines[1:]), "".join(lines[:-1]), *lines}
        if any(len(body) >= 60 and _looks_private(body) for body in candidates):
            return True
    return False


def parse_public_key(field: str, value: object) -> PublicKey:
    text = "" if value is None else str(value).strip()
    if not text:
        raise FieldError(field, "is required.")
    if len(text) > 20000:
        raise FieldError(field, "is far too long for an RSA public key.")
    if _looks_private(text):
        raise FieldError(field, PRIVATE_KEY_MESSAGE)
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        elif text.startswith(("ssh-rsa ", "ecdsa-", "ssh-ed25519 ")):
            key = serialization.load_ssh_public_key(text.encode())
        else:
            der = base64.b64decode(re.sub(r"\s+", "", text), validate=True)
            key = serialization.load_der_public_key(der)
    except Exception:
        raise FieldError(
            field,
            "is not a readable public key. Paste the contents of rsa_key.pub "
            "(-----BEGIN PUBLIC KEY----- ...) or its base64 body.",
        ) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise FieldError(field, "must be an RSA key; Snowflake key-pair authentication takes RSA only.")
    if key.key_size < MIN_RSA_BITS:
        raise FieldError(field, f"is an RSA key of {key.key_size} bits; {MIN_RSA_BITS} bits or more are required.")
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return PublicKey(
        body=base64.b64encode(der).decode(),
        bits=key.key_size,
        fingerprint="SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode(),
    )


@dataclass(frozen=True)
class GeneratedKeyPair:
    """A key pair made for a requester: the private key leaves once (as a download), the public stays."""

    private_pem: bytes  # PKCS#8 PEM, passphrase-encrypted when one was given
    public_pem: str
    public: PublicKey


def generate_key_pair(passphrase: str | None = None, bits: int = MIN_RSA_BITS) -> GeneratedKeyPair:
    """A new RSA key pair. Nothing is written anywhere: the caller hands the private key to its owner
    and forgets it."""
    if bits < MIN_RSA_BITS:
        raise ValueError(f"RSA keys of fewer than {MIN_RSA_BITS} bits are refused")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
        if passphrase else serialization.NoEncryption()
    )
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return GeneratedKeyPair(private_pem, public_pem, parse_public_key("rsa_public_key", public_pem))
