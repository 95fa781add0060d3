"""The local credentials endpoint of serve and exec --server."""
