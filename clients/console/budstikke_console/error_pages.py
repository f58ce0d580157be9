"""Error pages. NotFound from the API and an unknown page are one 404 page (another
agency's resource and a made-up id look exactly the same); PermissionDenied and a
role the page is not for are 403; refusals show the server's rule descriptions."""

import budstikke
from flask import render_template, request


def register(app):
    metrics = app.extensions["console"]["metrics"]

    @app.errorhandler(budstikke.NotFound)
    def not_found(e):
        metrics.api_errors.labels("NOT_FOUND").inc()
        return render_template("error.html", title="Fant ikke siden",
                               message="Vi fant ikke det du lette etter. Saken finnes ikke, "
                               "eller du har ikke tilgang til den."), 404

    @app.errorhandler(budstikke.InvalidArgument)
    def invalid(e):
        # A malformed id in a page address is "not found" like any other unknown id.
        if request.method == "GET":
            return not_found(e)
        metrics.api_errors.labels("INVALID_ARGUMENT").inc()
        return render_template("error.html", title="Ugyldig forespørsel",
                               message="Budstikke kunne ikke bruke det som ble sendt."), 400

    @app.errorhandler(404)
    def not_found_page(e):
        return not_found(e)

    @app.errorhandler(budstikke.PermissionDenied)
    def forbidden(e):
        metrics.api_errors.labels("PERMISSION_DENIED").inc()
        return render_template("error.html", title="Ingen tilgang",
                               message="Rollen din gir ikke tilgang til dette."), 403

    @app.errorhandler(403)
    def forbidden_page(e):
        return render_template("error.html", title="Ingen tilgang",
                               message="Rollen din gir ikke tilgang til dette."), 403

    @app.errorhandler(budstikke.Unavailable)
    def unavailable(e):
        metrics.api_errors.labels("UNAVAILABLE").inc()
        return render_template("error.html", title="Tjenesten svarer ikke",
                               message="Budstikke svarer ikke akkurat nå. Prøv igjen om "
                               "litt."), 503

    @app.errorhandler(budstikke.PolicyViolation)
    def refused(e):
        metrics.api_errors.labels("FAILED_PRECONDITION").inc()
        return render_template("error.html", title="Ikke utført",
                               message="Budstikke avviste handlingen: " + "; ".join(
                                   v.description for v in e.violations)), 409

    @app.errorhandler(400)
    def bad_request(e):
        return render_template("error.html", title="Ugyldig forespørsel",
                               message="Skjemaet var utløpt eller ugyldig. Gå tilbake, "
                               "last siden på nytt og prøv igjen."), 400
