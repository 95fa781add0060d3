"""Configuration: rolehop's TOML file and the AWS shared files, where they are, and the rules
every value must meet."""
