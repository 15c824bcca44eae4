"""The FFU engine: positions along the chain and the walk through them."""
