"""Placeholder: endpoints arrive in this module."""

urlpatterns = []
