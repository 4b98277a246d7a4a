"""The Stripe half of the payment sandbox (``StripeSandbox`` in :mod:`sandbox.stripe.api`).

``api`` routes and hosted-page handlers, ``transport`` the envelope of every API call (keys,
request ids, ``Idempotency-Key``), ``params``/``session_params`` Stripe's validation rules,
``errors`` its error bodies, ``state`` the tables and events, ``payments`` what a hosted-page
button or a refund does, ``views`` ``expand[]`` and list pages, ``objects``/``charges`` the
object builders, ``pages`` the HTML, ``signing`` the ``Stripe-Signature`` header.
"""
