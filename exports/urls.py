from django.urls import path

from exports import api

urlpatterns = [
    path("exports/", api.ExportCreateApi.as_view(), name="export-create"),
    path("exports/<uuid:export_id>/", api.ExportDetailApi.as_view(), name="export-detail"),
    path(
        "exports/<uuid:export_id>/download",
        api.ExportDownloadApi.as_view(),
        name="export-download",
    ),
    path("exports/<uuid:export_id>/archive", api.ExportArchiveApi.as_view(), name="export-archive"),
]
