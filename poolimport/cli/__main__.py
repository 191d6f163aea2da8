import sys

from poolimport.cli import main

sys.exit(main())
