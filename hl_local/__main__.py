from hl_local.cli import main

raise SystemExit(main())
