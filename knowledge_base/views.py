from django.shortcuts import render

from deelrx.web import team_view


@team_view()
def index(request):
    return render(request, "knowledge_base/index.html")


def help_center(request):
    return render(request, "knowledge_base/help_center.html")
