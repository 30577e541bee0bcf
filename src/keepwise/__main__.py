"""``python -m keepwise``: the keepwise command line, for when the ``keepwise`` script is not on the PATH."""

from keepwise.cli import main

if __name__ == "__main__":
    main()
