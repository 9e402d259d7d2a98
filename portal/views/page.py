from django.shortcuts import render


def render_page(request, nav: str, template: str, context: dict, status: int = 200):
    """Render a My Access page with its place in the main navigation marked."""
    return render(request, template, {"nav": nav, **context}, status=status)
