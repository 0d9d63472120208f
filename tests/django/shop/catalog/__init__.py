"""The shop's catalogue: its own models and views."""
