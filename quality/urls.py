from django.urls import path

from quality import api

urlpatterns = [
    path("review/next/", api.ReviewNextApi.as_view(), name="review-next"),
    path("review/<int:crop_id>/decide/", api.ReviewDecideApi.as_view(), name="review-decide"),
]
