"""One module per `sealbook` sub-command: argparse wiring only; the work lives in `builder`."""
