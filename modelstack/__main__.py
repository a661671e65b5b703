import sys

from modelstack.cli import main

sys.exit(main())
