from sovrium_tui.entry import main

raise SystemExit(main())
