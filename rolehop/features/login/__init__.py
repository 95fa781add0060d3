"""rolehop login: the AWS console, through the federation endpoint."""
