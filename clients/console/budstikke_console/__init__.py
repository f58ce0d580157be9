"""budstikke-console: the web console for clinicians, kindergarten and school staff,
auditors and the operator, on the public Budstikke API through the Python SDK.

See docs/CONSOLE.md. ``create_app(config)`` builds the Flask application;
``budstikke-console --config FILE`` runs it.
"""

__version__ = "0.1.0"
