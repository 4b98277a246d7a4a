"""The answers Django and django-ninja give on their own under /api/ (an address or a method
the API does not have), put in the API's error contract: `{"error": {"code", "message"}}`."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

CODES = {
    404: ("NOT_FOUND", "There is nothing at this address."),
    405: ("METHOD_NOT_ALLOWED", "This address does not take that method."),
}


class ApiErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code in CODES
            and request.path_info.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            code, message = CODES[response.status_code]
            answer = JsonResponse(
                {"error": {"code": code, "message": message}}, status=response.status_code
            )
            if response.has_header("Allow"):
                answer["Allow"] = response["Allow"]
            return answer
        return response
