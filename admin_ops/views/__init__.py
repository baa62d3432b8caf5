from django.shortcuts import render

from deelrx.web import team_view


@team_view()
def index(request):
    return render(request, "admin_ops/index.html")
