import base64

import pytest

from annotations import crypto


def test_blob_round_trip_and_ciphertext_hides_plaintext():
    key = crypto.new_data_key()
    plain = b"\x89PNG\r\n\x1a\n" + b"receipt pixels" * 100

    sealed = crypto.encrypt_blob(key, plain, donation_id="d1", name="a.png")

    assert sealed.startswith(crypto.BLOB_MAGIC)
    assert b"receipt pixels" not in sealed
    assert b"PNG" not in sealed
    assert crypto.decrypt_blob(key, sealed, donation_id="d1", name="a.png") == plain


def test_same_plaintext_encrypts_differently_each_time():
    key = crypto.new_data_key()
    assert crypto.encrypt_blob(key, b"x", donation_id="d", name="n") != crypto.encrypt_blob(
        key, b"x", donation_id="d", name="n"
    )


def test_wrong_data_key_fails():
    sealed = crypto.encrypt_blob(crypto.new_data_key(), b"secret", donation_id="d", name="n")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_blob(crypto.new_data_key(), sealed, donation_id="d", name="n")


@pytest.mark.parametrize(("donation_id", "name"), [("other", "n"), ("d", "other-name")])
def test_blob_moved_to_another_donation_or_name_fails(donation_id, name):
    key = crypto.new_data_key()
    sealed = crypto.encrypt_blob(key, b"secret", donation_id="d", name="n")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_blob(key, sealed, donation_id=donation_id, name=name)


def test_altered_byte_fails():
    key = crypto.new_data_key()
    sealed = bytearray(crypto.encrypt_blob(key, b"secret" * 10, donation_id="d", name="n"))
    sealed[-5] ^= 0x01
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_blob(key, bytes(sealed), donation_id="d", name="n")


def test_data_key_unwraps_only_with_the_master_key_that_wrapped_it(settings):
    data_key = crypto.new_data_key()
    wrapped = crypto.wrap_data_key(data_key, donation_id="d")
    assert data_key not in wrapped
    assert crypto.unwrap_data_key(wrapped, donation_id="d") == data_key

    settings.DROPTURK_MASTER_KEY = base64.b64encode(b"z" * 32).decode()
    crypto._master_key.cache_clear()
    with pytest.raises(crypto.DecryptionError):
        crypto.unwrap_data_key(wrapped, donation_id="d")


def test_malformed_master_key_is_a_clear_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.DROPTURK_MASTER_KEY = base64.b64encode(b"short").decode()
    crypto._master_key.cache_clear()
    with pytest.raises(ImproperlyConfigured, match="32 bytes"):
        crypto.new_data_key() and crypto.wrap_data_key(b"k" * 32, donation_id="d")


def test_missing_master_key_is_generated_once_into_the_secrets_file(settings, tmp_path):
    settings.DROPTURK_MASTER_KEY = ""
    settings.DROPTURK_MASTER_KEY_FILE = tmp_path / "secrets" / "master.key"
    crypto._master_key.cache_clear()

    first = crypto.wrap_data_key(b"k" * 32, donation_id="d")
    crypto._master_key.cache_clear()

    assert settings.DROPTURK_MASTER_KEY_FILE.stat().st_mode & 0o777 == 0o600
    assert crypto.unwrap_data_key(first, donation_id="d") == b"k" * 32
