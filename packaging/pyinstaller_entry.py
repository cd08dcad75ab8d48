"""The bundle's entry point: the same `playground` command the wheel installs."""

import multiprocessing
import sys

from playground.app import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # torch's DataLoader workers re-run the bundle's executable
    sys.exit(main())
