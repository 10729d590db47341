"""Field checks and RSA public keys: what a requester types is accepted or refused with a clear message."""
import base64

import pytest
from cryptography.hazmat.primitives import serialization

from core import fields
from core.fields import FieldError
from core.keys import parse_public_key


@pytest.mark.parametrize("value", ["jane_doe", "JANE_DOE", "_svc", "A1", "x" * 255])
def test_identifier_accepts_plain_names_upper_cased(value):
    assert fields.identifier("name", value) == value.upper()


@pytest.mark.parametrize(
    "value",
    ["", "   ", None, "jane doe", 'jane"doe', "jane'doe", "jane\ndoe", "a..b", "a.b", "1abc", "a;drop table x",
     "a: b", "a#b", "{a}", "[a]", "*a", "&a", "!a", "a__b", "jäne", "x" * 256, "a-b", "$a"],
)
def test_identifier_refuses_everything_else(value):
    with pytest.raises(FieldError) as err:
        fields.identifier("name", value)
    assert err.value.field == "name"
    assert err.value.message


@pytest.mark.parametrize("value", ["a@b", "a b@c.com", "jane@", "@x.com", "jane@x.com\nBcc: y@z.com", "j\"@x.com", "x" * 250 + "@a.com"])
def test_email_refuses_malformed_addresses(value):
    with pytest.raises(FieldError, match="not a valid email"):
        fields.email("email", value)


def test_email_is_normalised():
    assert fields.email("email", "  Jane.Doe@Example.COM ") == "jane.doe@example.com"


def test_free_text_keeps_quotes_and_unicode_but_not_newlines():
    assert fields.free_text("first_name", "O'Brien-Ñúñez") == "O'Brien-Ñúñez"
    with pytest.raises(FieldError, match="single line"):
        fields.free_text("first_name", "Jane\nDoe")


def test_justification_is_required():
    with pytest.raises(FieldError, match="required"):
        fields.justification("  ")


def _body(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))


def test_public_key_in_every_common_form_gives_the_same_body(rsa_key, public_pem):
    pkcs1 = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()
    ssh = rsa_key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    bodies = {parse_public_key("k", text).body for text in (public_pem, _body(public_pem), pkcs1, ssh, "\n" + public_pem + "\n")}
    assert bodies == {_body(public_pem)}
    key = parse_public_key("k", public_pem)
    assert key.bits == 2048
    assert key.fingerprint.startswith("SHA256:")


def test_private_key_is_refused_without_echoing_it(private_pem, rsa_key):
    der = rsa_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    encrypted = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    ).decode()
    for text in (private_pem, _body(private_pem), base64.b64encode(der).decode(), encrypted):
        with pytest.raises(FieldError) as err:
            parse_public_key("rsa_public_key", text)
        assert "PRIVATE key" in err.value.message
        assert _body(private_pem)[:40] not in str(err.value)
        assert text[:60] not in str(err.value)


def test_weak_and_non_rsa_keys_are_refused(small_rsa_public, ec_public):
    with pytest.raises(FieldError, match="1024 bits"):
        parse_public_key("k", small_rsa_public)
    with pytest.raises(FieldError, match="must be an RSA key"):
        parse_public_key("k", ec_public)


@pytest.mark.parametrize("text", ["", "hello", "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----", "QUJD", "a" * 30000])
def test_garbage_is_not_a_key(text):
    with pytest.raises(FieldError):
        parse_public_key("k", text)
