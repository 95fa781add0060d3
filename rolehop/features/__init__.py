"""What the commands offer beyond handing out credentials."""
