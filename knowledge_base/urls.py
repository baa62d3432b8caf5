from django.urls import path

from knowledge_base import views

app_name = "knowledge_base"

urlpatterns = [
    path("", views.index, name="index"),
]
