"""Source context: the lines of code around each stack frame, from this machine's own files.

- `roots.py`    which files may be read at all (the source roots and the working directory), and
                how a recorded path (`/app/x.py`, `file:///…`, a bundle URL) becomes a local one
- `files.py`    reading those files: bounded, cached, refused when binary, too large or unreadable
- `watch.py`    watchfiles on the directories of the files read: an edit evicts them at once
- `maps.py`     source maps for bundled JavaScript (symbolic, Sentry's Rust source-map reader)
- `fetch.py`    with --fetch-source-maps: bundles and maps from the app's dev server, loopback only
- `editor.py`   links that open a frame's file in the developer's editor
- `frames.py`   Sources: recorded frames → frames with their map resolution and lines, for the
                API and for grouping
"""
