"""Password hashing: argon2id, the length policy, and rehashing when parameters change."""

import pytest
from argon2 import PasswordHasher

from quote_service.accounts import passwords


def test_a_hash_is_argon2id_and_verifies_only_its_password():
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert passwords.verify(stored, "correct horse battery") == passwords.Verification(True)
    assert not passwords.verify(stored, "correct horse batterY").ok


def test_the_same_password_gets_a_new_salt_each_time():
    assert passwords.hash_password("0123456789") != passwords.hash_password("0123456789")


@pytest.mark.parametrize("password", ["", "short", "123456789"])
def test_passwords_under_ten_characters_are_refused(password):
    with pytest.raises(passwords.PasswordRejected, match="at least 10"):
        passwords.hash_password(password)


def test_absurdly_long_passwords_are_refused_and_never_verified():
    with pytest.raises(passwords.PasswordRejected, match="at most"):
        passwords.check_policy("x" * (passwords.MAX_LENGTH + 1))
    stored = passwords.hash_password("x" * 20)
    assert not passwords.verify(stored, "x" * (passwords.MAX_LENGTH + 1)).ok


def test_the_email_address_is_not_a_password():
    with pytest.raises(passwords.PasswordRejected, match="email"):
        passwords.check_policy("Ann.Lee@Example.com", email="ann.lee@example.com")


def test_a_hash_made_with_weaker_parameters_is_upgraded_on_success():
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("0123456789ab")
    result = passwords.verify(weak, "0123456789ab")
    assert result.ok and result.new_hash is not None and result.new_hash != weak
    assert passwords.verify(result.new_hash, "0123456789ab") == passwords.Verification(True)
    assert passwords.verify(weak, "wrong password").new_hash is None


def test_a_damaged_hash_is_a_failed_check_not_an_error():
    assert not passwords.verify("not a hash", "0123456789").ok
    assert not passwords.verify("", "0123456789").ok


def test_composed_and_decomposed_accents_are_the_same_password():
    stored = passwords.hash_password("caf\u00e9 au lait!")
    assert passwords.verify(stored, "cafe\u0301 au lait!").ok


def test_an_unknown_user_check_always_fails():
    assert passwords.verify_nobody("anything at all") == passwords.Verification(False)
