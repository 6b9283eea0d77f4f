import sys

from lcm.cli import main

sys.exit(main())
