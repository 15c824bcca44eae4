import sys

from ffulab.cli import main

sys.exit(main())
