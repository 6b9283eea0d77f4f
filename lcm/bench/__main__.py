import sys

from lcm.bench.run import main

sys.exit(main())
