"""`python -m sirenkit` runs the command line (also used by torchrun)."""

from .cli import entry

if __name__ == "__main__":
    entry()
