from django.urls import path

app_name = "assets"

# Fixed-prefix routes first; the catch-all "<str:tag>/" routes last.
urlpatterns: list = []
