import json
import os

import stripe
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from bench.reference.models import Puppy


def bare(request: HttpRequest) -> JsonResponse:
    """The floor: Django's request/response cycle and nothing else."""
    return JsonResponse({"ok": True})


def plain_catalogue(request: HttpRequest) -> HttpResponse:
    """The typical Django shop's catalogue: one ORM query, one simple template, no cache."""
    puppies = Puppy.objects.filter(is_published=True).order_by("-born_on", "name")[:24]
    return render(request, "reference/catalogue.html", {"puppies": puppies})


# --- floors: the least a Django view can do for Kennel's hot paths, on this machine --------
# Each is Kennel's work for that path with everything but the essentials taken away: no
# middleware but the common one, no ORM, one SQL statement, on copies of Kennel's tables
# (floor_*, made like pgbench's). Kennel over its floor is what its own code costs.

FLOOR_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")

FLOOR_INGEST_SQL = """
WITH event AS (
  INSERT INTO floor_webhookevent (provider, event_id, type, body, headers, signature_valid,
    status, attempts, last_error, received_at)
  VALUES ('stripe', %s, %s, %s, '{}', true, 'pending', 0, '', now())
  ON CONFLICT DO NOTHING RETURNING id
)
INSERT INTO floor_sideeffect (created_at, updated_at, kind, recipient, dedup_key, data, queue,
  status, attempts, next_attempt_at, task_id, last_error)
SELECT now(), now(), 'payments.webhook_process', '', 'webhook:stripe:' || %s,
  json_build_object('event_pk', id), 'money', 'pending', 0, now(), '', '' FROM event
ON CONFLICT DO NOTHING
"""

FLOOR_HOLD_SQL = """
UPDATE floor_puppy SET status = 'held', updated_at = now()
WHERE slug = %s AND status = 'available' AND is_published RETURNING id
"""


@csrf_exempt
def floor_ingest(request: HttpRequest) -> JsonResponse:
    """Verify the Stripe signature (the stripe SDK's own check), store the event and its
    processing job in one statement, acknowledge."""
    body = request.body
    try:
        stripe.WebhookSignature.verify_header(
            body.decode(), request.headers.get("Stripe-Signature", ""), FLOOR_WEBHOOK_SECRET, 300
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        return JsonResponse({"error": {"code": "INVALID_SIGNATURE"}}, status=400)
    event = json.loads(body)
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_INGEST_SQL, [event["id"], event["type"], body.decode(), event["id"]])
    return JsonResponse({"received": True})


@csrf_exempt
def floor_hold(request: HttpRequest) -> JsonResponse:
    """A buyer presses Reserve: one conditional UPDATE; the loser is told at once (409)."""
    try:
        slug = json.loads(request.body)["puppy"]
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": {"code": "INVALID"}}, status=422)
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_HOLD_SQL, [slug])
        held = cursor.fetchone()
    if held is None:
        return JsonResponse({"error": {"code": "PUPPY_NOT_AVAILABLE"}}, status=409)
    return JsonResponse({"id": held[0], "status": "pending"}, status=201)
