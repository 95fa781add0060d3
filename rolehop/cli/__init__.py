"""The command line: thin click commands over the engine and the features; the only code that
prints. ``rolehop.cli.app.main`` runs it and turns every failure into one line and an exit
code."""
