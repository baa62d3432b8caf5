from django.urls import path

from admin_ops.views import purge as views

urlpatterns = [
    path("purges/", views.purge_list, name="purge-list"),
    path("purges/new/", views.purge_create, name="purge-create"),
    path("purges/<uuid:purge_id>/", views.purge_detail, name="purge-detail"),
    path("purges/<uuid:purge_id>/export/", views.purge_export, name="purge-export"),
    path(
        "purges/<uuid:purge_id>/acknowledge/",
        views.purge_action,
        {"action": "acknowledge"},
        name="purge-acknowledge",
    ),
    path("purges/<uuid:purge_id>/cancel/", views.purge_action, {"action": "cancel"}, name="purge-cancel"),
]
