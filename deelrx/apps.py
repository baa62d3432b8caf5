from django.apps import AppConfig


class DeelrxConfig(AppConfig):
    """The project package itself, registered for its management commands
    (dbcheck, blobcheck, run_job, seed_demo) and its templates."""

    name = "deelrx"
    verbose_name = "DeelRx"

    def ready(self) -> None:
        from django.apps import apps
        from django.db.models.signals import post_migrate

        from deelrx.input_guard import install_request_guard
        from deelrx.jobs import sync_job_schedules_after_migrate

        install_request_guard()

        # The beat tables belong to django_celery_beat: sync once they exist.
        post_migrate.connect(sync_job_schedules_after_migrate, sender=apps.get_app_config("django_celery_beat"))
