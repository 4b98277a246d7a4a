from django.urls import path

from kennel.monitoring import metrics, views

app_name = "monitoring"
urlpatterns = [
    path("health/", views.health, name="health"),
    path("metrics", metrics.metrics, name="metrics"),
    path("health/webhooks/", views.health_webhooks, name="health_webhooks"),
]
