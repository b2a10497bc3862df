"""What acts without a person: the guard, the bandit and the background monitor."""
