from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("", views.event_list, name="events"),
    path("events/<int:event_id>/", views.event_detail, name="event"),
    path("history/<str:target_type>/<str:target_id>/", views.history, name="history"),
    path("export.csv", views.event_export, {"fmt": "csv"}, name="export-csv"),
    path("export.jsonl", views.event_export, {"fmt": "jsonl"}, name="export-jsonl"),
]
