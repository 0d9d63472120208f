"""mediakit.processing."""
