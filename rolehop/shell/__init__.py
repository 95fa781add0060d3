"""Shell integration: the init snippets for bash, zsh, fish and PowerShell.

Imported on the cache-hit path (for the names of the shells): nothing but this tuple.
"""

SHELLS = ("bash", "zsh", "fish", "powershell")
