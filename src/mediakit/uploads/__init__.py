"""mediakit.uploads."""
