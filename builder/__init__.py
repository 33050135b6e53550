"""sealbook's builder: parse, lint, freeze, sign, render the site, run snippets, CLI ``sealbook``."""

__version__ = "0.1.0"
