"""One module per ``keepwise`` command; each defines ``register(app)``."""
