"""`python -m djstripe_project.endpoint SECRET URL`: the account stub, the API key and the
WebhookEndpoint row dj-stripe's webhook view needs (what syncing from Stripe would create;
the sandbox has no /v1/account nor /v1/webhook_endpoints). Prints the endpoint's uuid."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djstripe_project.settings")
django.setup()

from djstripe.models import Account, APIKey, WebhookEndpoint  # noqa: E402


def main() -> None:
    secret, url = sys.argv[1], sys.argv[2]
    account, _ = Account.objects.get_or_create(
        id="acct_kennel_sandbox", defaults={"livemode": False}
    )
    key, _ = APIKey.objects.get_or_create_by_api_key(os.environ["STRIPE_SECRET_KEY"])
    key.djstripe_owner_account = account
    key.save()
    endpoint, _ = WebhookEndpoint.objects.update_or_create(
        id="we_kennel_bench",
        defaults={
            "livemode": False,
            "secret": secret,
            "url": url,
            "enabled_events": ["*"],
            "status": "enabled",
            "api_version": "",
            "djstripe_owner_account": account,
            "djstripe_validation_method": "verify_signature",
            "djstripe_tolerance": 300,
        },
    )
    print(endpoint.djstripe_uuid)


if __name__ == "__main__":
    main()
