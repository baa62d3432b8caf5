from django.urls import path

from notifications.api import views

urlpatterns = [
    path("notifications/", views.NotificationListApi.as_view(), name="api-notifications"),
    path("notifications/read-all/", views.NotificationReadAllApi.as_view(), name="api-notifications-read-all"),
    path(
        "notifications/preferences/", views.NotificationPreferencesApi.as_view(), name="api-notifications-preferences"
    ),
    path(
        "notifications/<str:notification_id>/read/",
        views.NotificationReadApi.as_view(),
        name="api-notification-read",
    ),
]
