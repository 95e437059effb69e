from django.urls import path

from ocr_bridge import views

app_name = "models"

urlpatterns = [
    path("", views.models_page, name="page"),
    path("retrain", views.model_retrain, name="retrain"),
    path("<int:version_id>/promote", views.model_promote, name="promote"),
]
