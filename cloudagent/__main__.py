import sys

from cloudagent.cli import main

sys.exit(main())
