"""Study scripts: ``python -m experiments.<study> [overrides]`` (see README, "Experiments")."""
