#!/usr/bin/env bash
# scripts/cluster.sh's interface over the Helm chart's microservices render
# (tests/chart/chart_cluster.py): start|stop|status|kill NAME|restart NAME|env.
exec /usr/bin/python3 "$(dirname "$0")/chart_cluster.py" "$@"
