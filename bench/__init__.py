"""Developer benchmarks that run on other machines (scripts/device-check); not part of the product."""
