"""mediakit.service."""
