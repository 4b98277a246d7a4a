"""A minimal Django project receiving Stripe webhooks with dj-stripe (run in its own venv)."""
