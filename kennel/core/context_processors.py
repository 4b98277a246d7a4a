from typing import Any

from django.conf import settings
from django.http import HttpRequest


def shop(request: HttpRequest) -> dict[str, Any]:
    return {
        "shop_name": settings.SHOP_NAME,
        "breeder_name": settings.BREEDER_NAME,
        "breeder_email": settings.BREEDER_EMAIL,
        "breeder_phone": settings.BREEDER_PHONE,
        "payments_mode": settings.PAYMENTS_MODE,
    }
