from django.urls import path

from knowledge_base import views

app_name = "help"

# Article pages are /help/<team slug>/<article slug>/: readable, stable URLs
# (slugs are unique per team and team slugs are unique).
urlpatterns = [
    path("", views.help_center, name="index"),
    path("<slug:team_slug>/<slug:article_slug>/", views.help_article, name="article"),
    path("<slug:team_slug>/<slug:article_slug>/feedback/", views.help_feedback, name="feedback"),
]
