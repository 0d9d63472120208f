"""RSA keys for the CDN tests, generated once per session (never a key from a file in
the repository: the tests must not teach anyone to commit one)."""

from __future__ import annotations

import functools

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

KEY_ID = "K2JCJMDEHXQW5F"


@functools.cache
def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """A fresh RSA private key of ``bits`` bits (cached for the session)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, *, pkcs1: bool = True) -> str:
    """The key as unencrypted PEM text (PKCS#1 for RSA if asked, else PKCS#8)."""
    fmt = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if pkcs1 and isinstance(key, rsa.RSAPrivateKey)
        else serialization.PrivateFormat.PKCS8
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
