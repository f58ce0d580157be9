"""budstikke-console --config FILE: runs the console (threaded WSGI server).

Exit status 2 with a one-line reason on a bad configuration. Serves HTTPS itself
when tls_cert/tls_key are configured; otherwise run it behind a TLS proxy.
"""

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="budstikke-console",
                                     description="Budstikke web console")
    parser.add_argument("--config", required=True, help="JSON configuration file")
    args = parser.parse_args(argv)
    import budstikke
    from budstikke_console import config as config_mod
    from budstikke_console.app import create_app
    from budstikke_console.auth import LoginError
    try:
        cfg = config_mod.load(args.config)
        app = create_app(cfg)
    except (config_mod.ConfigError, LoginError, budstikke.ConfigurationError) as e:
        print("budstikke-console: %s" % e, file=sys.stderr)
        return 2
    host, _, port = cfg.listen.rpartition(":")
    from werkzeug.serving import make_server
    ssl_context = (cfg.tls_cert, cfg.tls_key) if cfg.tls_cert else None
    server = make_server(host or "127.0.0.1", int(port), app, threaded=True,
                         ssl_context=ssl_context)
    print("budstikke-console listening on %s:%d" % (host, server.port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
