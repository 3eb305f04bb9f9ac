"""Allow ``python -m stockflow``."""

from stockflow.cli.app import main

if __name__ == "__main__":
    main()
