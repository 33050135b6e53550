"""sealbook's verifier: formats, digests, trust policy and offline verification.

This package never imports ``builder`` or ``mkdocs``, and never opens a network
connection. The builder depends on it; never the reverse.
"""

__version__ = "0.1.0"
