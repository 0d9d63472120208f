"""The FastAPI reference server."""
