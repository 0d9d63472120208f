"""Smoke scripts run by ``tests/release/installs.py`` inside a clean virtualenv, from a copy
outside the source tree. Each uses only what its install set brings (plus httpx)."""
