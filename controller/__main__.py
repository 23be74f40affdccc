from controller.service.cli import main

raise SystemExit(main())
