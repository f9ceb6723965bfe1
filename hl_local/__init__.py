"""hl-local: a local home for Highlight.io SDK and OpenTelemetry data, in one DuckDB file."""

__version__ = "0.1.0"
