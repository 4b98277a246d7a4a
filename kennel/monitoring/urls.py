from django.urls import path

from kennel.monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("health/", views.health, name="health"),
]
