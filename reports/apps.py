from django.apps import AppConfig


class ReportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from deelrx import searches
        from reports.services.searches import searches_record

        searches.register_search_sink(searches_record)
