from django.urls import include, path

urlpatterns: list = [
    path("", include("knowledge_base.api.upload_urls")),
]
