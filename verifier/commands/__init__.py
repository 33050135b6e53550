"""One module per `sealbook-verify` sub-command: argparse wiring only."""
