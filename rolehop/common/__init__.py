"""Small pieces every layer uses: credentials, redaction, progress, hardening."""
