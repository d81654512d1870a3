"""`python -m service` is the same as the `takedown` command."""

from service.cli import main

main()
