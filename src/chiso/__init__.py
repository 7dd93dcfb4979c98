"""chiso: reproducible scoring and reporting of public-service quality indices."""

__version__ = "0.1.0"
