from django.urls import path

from admin_ops import views

app_name = "admin_ops"

urlpatterns = [
    path("", views.index, name="index"),
]
