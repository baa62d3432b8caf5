"""Where the rules of `deelrx.inputs` are enforced: the API's default DRF parsers
(JSON, form, multipart) and `InputGuardMiddleware` for the path, the query
string, the headers and HTML form bodies."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import BadRequest, TooManyFieldsSent
from django.http import HttpRequest, JsonResponse, QueryDict
from django.shortcuts import render
from django.utils.datastructures import MultiValueDict
from django.utils.http import parse_header_parameters
from rest_framework import exceptions, parsers

from deelrx.api import error_body, is_api_request
from deelrx.inputs import (
    FORM_CONTENT_TYPES,
    NUL_MESSAGE,
    charset_problem,
    content_length_problem,
    loads,
    pairs_problem,
    read_body,
    text_problem,
)


# --- DRF parsers (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]) ---------------------------------
class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        return loads(read_body(stream), encoding=encoding)


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        data = QueryDict(read_body(stream), encoding=encoding)
        _refuse_pairs(data.lists())
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        _refuse_pairs(result.data.lists())
        _refuse_pairs((key, [upload.name for upload in uploads]) for key, uploads in result.files.lists())
        return result


def _refuse_pairs(pairs) -> None:
    found = pairs_problem(pairs)
    if found:
        raise exceptions.ValidationError({found[0]: [found[1]]})


# --- Request construction -------------------------------------------------------------------
_set_content_type_params = HttpRequest._set_content_type_params


def _guarded_set_content_type_params(self, meta):
    """Django decodes the query string with the Content-Type's charset while it builds the
    request (the `encoding` setter), before any middleware: a charset it cannot decode with
    (`charset_problem`) is kept in `content_params` for InputGuardMiddleware to refuse, never
    used."""
    content_type, params = parse_header_parameters(meta.get("CONTENT_TYPE", ""))
    if charset_problem(params.get("charset")):
        self.content_type, self.content_params = content_type, params
        return
    _set_content_type_params(self, meta)


def install_request_guard() -> None:
    """Called from DeelrxConfig.ready(): WSGI, ASGI and test requests all build through here."""
    HttpRequest._set_content_type_params = _guarded_set_content_type_params


# --- Middleware ------------------------------------------------------------------------------
def _refusal(request, field: str, message: str):
    if is_api_request(request):
        return JsonResponse(error_body("validation_error", "Some fields are invalid.", {field: [message]}), status=400)
    return render(request, "400.html", {"message": f"{field}: {message}"}, status=400)


class InputGuardMiddleware:
    """Refuses unsafe text in the path, the query string and the headers before
    sessions, authentication or a view read them, and in HTML form bodies before
    the view (API bodies are checked by the parsers above)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        found = self._problem(request)
        if found:
            return _refusal(request, *found)
        return self.get_response(request)

    @staticmethod
    def _problem(request) -> tuple[str, str] | None:
        # Before anything decodes the query string or a form body with it.
        if problem := charset_problem(request.content_params.get("charset")):
            return "Content-Type", problem
        if problem := text_problem(request.path_info):
            return "path", problem
        # Before any view (or Django's own body reading) turns it into a number.
        if problem := content_length_problem(request.META.get("CONTENT_LENGTH")):
            return "Content-Length", problem
        try:
            found = pairs_problem(request.GET.lists())
        except TooManyFieldsSent:
            request.GET = QueryDict()  # the error page must not read it again (a 500 from the 400)
            return "query", f"At most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} parameters are allowed."
        if found:
            return found
        for key, value in request.META.items():
            # WSGI headers are Latin-1 text: only NUL can be told apart there.
            if (key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")) and "\x00" in str(value):
                return key.removeprefix("HTTP_").replace("_", "-").title(), NUL_MESSAGE
        return None

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or is_api_request(request) or request.content_type not in FORM_CONTENT_TYPES:
            return None
        try:
            found = pairs_problem(request.POST.lists()) or pairs_problem(
                (key, [upload.name for upload in uploads]) for key, uploads in request.FILES.lists()
            )
        except BadRequest as exc:  # a form body in another charset than UTF-8 (Django 5.2)
            request._post, request._files = QueryDict(), MultiValueDict()  # not read again by an error page
            return _refusal(request, "Content-Type", str(exc))
        return _refusal(request, *found) if found else None
