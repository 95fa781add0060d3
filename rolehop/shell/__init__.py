"""Shell integration: the init snippets for bash, zsh, fish and PowerShell."""
