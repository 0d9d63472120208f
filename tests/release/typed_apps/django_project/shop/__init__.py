"""A minimal Django project that adds mediakit, as a user would (mypy --strict)."""
