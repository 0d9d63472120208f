"""Repositories: protocols and implementations (memory, SQL)."""

from mediakit.repositories._protocols import (
    ImageRepository,
    MusicSetRepository,
    Repositories,
    TrackRepository,
)

__all__ = ["ImageRepository", "MusicSetRepository", "Repositories", "TrackRepository"]
