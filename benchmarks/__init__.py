"""mediakit benchmarks: each module compares mediakit with its anchor in the same run."""
