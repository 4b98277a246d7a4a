from django.urls import path

from kennel.catalogue import views

app_name = "catalogue"
urlpatterns = [
    path("", views.index, name="index"),
    path("puppies/<slug:slug>/", views.puppy_detail, name="puppy"),
]
