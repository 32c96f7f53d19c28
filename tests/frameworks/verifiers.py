"""The Python frameworks' own password code, for tests/frameworks.sh.

    verifiers.py SCHEME hash PASSWORD        prints a hash the framework made
    verifiers.py SCHEME check PASSWORD HASH  prints accepted or refused
    verifiers.py SCHEME params HASH          prints the hash's cost parameters

SCHEME is django_pbkdf2 (Django's PBKDF2PasswordHasher at 1,200,000
iterations), django_argon2 (Django's Argon2PasswordHasher), django_unusable
(hash only: Django's unusable password), bcrypt_2b and bcrypt_2a (the
bcrypt package at cost 12 and 11) or argon2 (argon2-cffi's PasswordHasher
with its defaults). Anything unexpected is an exception and a non-zero exit,
never a verdict.
"""

import sys

import argon2
import bcrypt
from django.conf import settings
from django.contrib.auth import hashers


class PBKDF2SHA256Hasher1200k(hashers.PBKDF2PasswordHasher):
    """Django 6.0's count: more than both Django 5.2's 1,000,000 and
    nile_reset's default, so a reset must keep it."""

    iterations = 1_200_000


# Django reads its hashers from the settings; no project, no apps needed.
# The subclass is the only pbkdf2_sha256 hasher, so Django reads such hashes
# with it (and asks it whether they must be updated).
settings.configure(
    PASSWORD_HASHERS=[
        "__main__.PBKDF2SHA256Hasher1200k",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
    ]
)


def verdict(ok):
    return "accepted" if ok else "refused"


def django(algorithm):
    def hash_(password):
        return hashers.make_password(password, hasher=algorithm)

    def check(password, encoded):
        return verdict(hashers.check_password(password, encoded))

    def params(encoded):
        hasher = hashers.identify_hasher(encoded)
        decoded = hasher.decode(encoded)
        keys = ["iterations"] if algorithm == "pbkdf2_sha256" else ["memory_cost", "time_cost", "parallelism"]
        fields = [f"{key}={decoded[key]}" for key in keys]
        return " ".join([decoded["algorithm"], *fields, f"must_update={hasher.must_update(encoded)}"])

    return {"hash": hash_, "check": check, "params": params}


def python_bcrypt(prefix, rounds):
    def hash_(password):
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds, prefix=prefix)).decode()

    def check(password, encoded):
        return verdict(bcrypt.checkpw(password.encode(), encoded.encode()))

    return {"hash": hash_, "check": check}


def argon2_cffi():
    hasher = argon2.PasswordHasher()

    def check(password, encoded):
        try:
            return verdict(hasher.verify(encoded, password))
        except argon2.exceptions.VerifyMismatchError:
            return verdict(False)

    def params(encoded):
        p = argon2.extract_parameters(encoded)
        return (
            f"argon2{p.type.name.lower()} m={p.memory_cost} t={p.time_cost} p={p.parallelism}"
            f" salt_len={p.salt_len} hash_len={p.hash_len}"
            f" needs_rehash={hasher.check_needs_rehash(encoded)}"
        )

    return {"hash": hasher.hash, "check": check, "params": params}


SCHEMES = {
    "django_pbkdf2": django("pbkdf2_sha256"),
    "django_argon2": django("argon2"),
    "django_unusable": {"hash": lambda _password: hashers.make_password(None)},
    "bcrypt_2b": python_bcrypt(b"2b", 12),
    "bcrypt_2a": python_bcrypt(b"2a", 11),
    "argon2": argon2_cffi(),
}

if __name__ == "__main__":
    scheme, command, *args = sys.argv[1:]
    print(SCHEMES[scheme][command](*args))
