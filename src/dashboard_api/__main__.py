from dashboard_api.cli import main

raise SystemExit(main())
