from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "kennel.catalogue"
    label = "catalogue"
    verbose_name = "Catalogue"
