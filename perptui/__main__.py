import sys

from perptui.cli import main

sys.exit(main())
