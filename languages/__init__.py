"""BCP-47 language codes: normalisation, names, detection and provider capabilities."""
