from django.urls import path

from exports import views

app_name = "exports"

urlpatterns = [
    path("", views.exports_page, name="page"),
    path("<uuid:export_id>/download", views.export_download, name="download"),
]
