"""Replay helpers: synthetic keyframes for fast seeking."""
