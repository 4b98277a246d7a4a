from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The composition root: `serve`, `worker`, the periodic sweeps and the demo loader.
    It may import every app; no app imports it."""

    name = "kennel.ops"
    label = "ops"
    verbose_name = "Operations"
