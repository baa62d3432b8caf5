from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "deelrx.audit"
    label = "audit"
    verbose_name = "Audit log"
