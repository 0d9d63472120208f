"""mediakit.http."""
