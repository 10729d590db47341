"""Key pairs generated for a requester, and passwords only ever as SnowDDL Fernet `!decrypt` values."""
import shutil
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization

from core.keys import generate_key_pair, parse_public_key
from core.passwords import FERNET_KEYS_VAR, PasswordError, can_decrypt, encrypt_password
from core.snowddl.edit import set_fields
from core.snowddl.config_loader import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "snowddl"


def test_generated_pair_is_a_usable_rsa_2048_key_whose_public_half_snowflake_takes():
    pair = generate_key_pair()
    private = serialization.load_pem_private_key(pair.private_pem, password=None)
    assert private.key_size == 2048
    assert pair.private_pem.startswith(b"-----BEGIN " + b"PRIVATE KEY-----")  # PKCS#8 (split: no key-like text in the repo)
    assert parse_public_key("k", pair.public_pem) == pair.public
    assert "PRIVATE" not in pair.public_pem


def test_a_passphrase_encrypts_the_private_key():
    pair = generate_key_pair("correct horse battery staple")
    assert pair.private_pem.startswith(b"-----BEGIN ENCRYPTED " + b"PRIVATE KEY-----")
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pair.private_pem, password=None)
    key = serialization.load_pem_private_key(pair.private_pem, password=b"correct horse battery staple")
    assert key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode() == pair.public_pem
    assert generate_key_pair().public != pair.public  # a new key every time


def test_password_is_a_fernet_decrypt_value_snowddl_reads(tmp_path, monkeypatch):
    from snowddl.fernet.wrapper import FernetWrapper
    from snowddl.parser import _yaml

    key = Fernet.generate_key().decode()
    monkeypatch.setenv(FERNET_KEYS_VAR, key)
    # SnowDDL reads the variable once, when its YAML module is imported: give it the key the same way.
    monkeypatch.setattr(_yaml, "fernet_wrapper", FernetWrapper())
    secret = "Tr0ub4dor&3-but-longer"
    value = encrypt_password(secret)
    assert value.startswith("!decrypt gAAAA") and secret not in value
    assert can_decrypt(value) and not can_decrypt(value, Fernet.generate_key().decode())
    config = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, config)
    users = config / "user.yaml"
    text = set_fields(users.read_text(), "PRAMAN", {"password": "PLACEHOLDER"})
    users.write_text(text.replace("password: PLACEHOLDER", f"password: {value}"))
    assert secret not in users.read_text()
    assert load_config(config).validation.valid  # SnowDDL's own !decrypt constructor opened it


def test_no_password_without_snowddls_key_or_when_too_short(monkeypatch):
    monkeypatch.delenv(FERNET_KEYS_VAR, raising=False)
    with pytest.raises(PasswordError, match=FERNET_KEYS_VAR) as err:
        encrypt_password("a-long-enough-password")
    assert "a-long-enough-password" not in str(err.value)
    with pytest.raises(PasswordError, match="14 characters"):
        encrypt_password("short", Fernet.generate_key().decode())
