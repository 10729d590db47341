"""Change requests: one interface, two backends (local git is the embedded default; GitHub pull requests)."""
