from django.urls import path

from ocr_bridge import api

urlpatterns = [
    path("models/", api.ModelListApi.as_view(), name="model-list"),
    path("models/retrain/", api.ModelRetrainApi.as_view(), name="model-retrain"),
    path("models/<int:version_id>/promote/", api.ModelPromoteApi.as_view(), name="model-promote"),
    path("donations/<uuid:donation_id>/text", api.DonationTextApi.as_view(), name="donation-text"),
]
