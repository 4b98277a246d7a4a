"""The references served next to Kennel: a bare Django JSON view and "the typical Django shop"
(one ORM query over Kennel's puppies and a simple template, no caching), on the same server."""
