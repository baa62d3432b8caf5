from django.urls import path

from knowledge_base import views

app_name = "help"

urlpatterns = [
    path("", views.help_center, name="index"),
]
