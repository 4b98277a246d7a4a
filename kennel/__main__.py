"""`python -m kennel <command>` runs Django management commands with Kennel's settings."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kennel.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0] if sys.argv[0] else "kennel", *sys.argv[1:]])


if __name__ == "__main__":
    main()
