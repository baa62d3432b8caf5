from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "deelrx.jobs"
    label = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from deelrx.jobs import events

        events.register()
