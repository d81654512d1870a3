"""The pure core: states, models, policies and statistics. Imports no I/O."""
