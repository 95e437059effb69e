from django.urls import path

import dbkit.urls  # noqa: F401  registers <rowid:...>, an id the database can hold
from quality import api

urlpatterns = [
    path("review/next/", api.ReviewNextApi.as_view(), name="review-next"),
    path("review/<rowid:crop_id>/decide/", api.ReviewDecideApi.as_view(), name="review-decide"),
]
