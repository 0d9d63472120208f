"""mediakit.presign."""
