"""CI jobs: list and run them on a fresh lab, write their artifacts, export them to Zuul."""
