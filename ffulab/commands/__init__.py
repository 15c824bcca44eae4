"""Commands beyond run and plan, one module each."""
