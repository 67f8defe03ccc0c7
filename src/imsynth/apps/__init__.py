"""What users do with trained models."""
