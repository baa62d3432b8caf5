from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "deelrx.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"
