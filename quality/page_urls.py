from django.urls import path

from quality import views

app_name = "quality"

urlpatterns = [
    path("", views.metrics_page, name="metrics"),
    path("detector-feedback/", views.detector_feedback_page, name="detector-feedback"),
]
