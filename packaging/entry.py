"""The frozen executable's entry point: the same `main` as the `hl-local` script of a pip install."""

from hl_local.cli import main

raise SystemExit(main())
