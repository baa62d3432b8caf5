from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "deelrx.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        from deelrx.tenancy import events, purgeable

        events.register()
        purgeable.register()
