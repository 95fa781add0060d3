"""Where rolehop keeps things: the keyring cache, stored keys, locks, private directories."""
