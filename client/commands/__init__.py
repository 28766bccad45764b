"""``python -m client``'s subcommands, one module each: ``add(subparsers)`` declares it (its
flags from client.args' groups) and ``run(args)`` carries it out and returns the exit code."""
