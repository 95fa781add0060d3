"""rolehop explain: which side of the trust blocks an AssumeRole."""
