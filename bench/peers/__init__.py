"""Peers measured by the bench, each in its own virtualenv (created by the bench, gitignored)."""
