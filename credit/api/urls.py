from django.urls import include, path

urlpatterns: list = [
    path("", include("credit.api.stripe_urls")),
]
