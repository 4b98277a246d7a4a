"""Kennel: a self-hosted storefront for dog breeders."""
