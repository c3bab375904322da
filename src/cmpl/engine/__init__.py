"""Training and evaluation machinery shared by every method."""
