from sovrium_tui.cli import main

raise SystemExit(main())
