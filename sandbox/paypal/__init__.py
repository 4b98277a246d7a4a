"""The PayPal half of the payment sandbox (``PayPalSandbox`` in :mod:`sandbox.paypal.api`).

``api`` routes and approve-page handlers, ``transport`` OAuth and the envelope of every call
(``PayPal-Request-Id``, ``Prefer``), ``params`` PayPal's validation rules, ``errors`` its error
bodies, ``state`` orders, approval and events, ``payments`` capture, settle and refund,
``objects`` the object builders, ``pages`` the HTML, ``signing`` the RSA webhook signatures.
"""
