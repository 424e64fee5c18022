#!/bin/sh
# Serve /www on ${APP_PORT:-80} in the foreground; leave on SIGTERM at once.
trap 'exit 0' TERM
httpd -f -p "${APP_PORT:-80}" -h /www &
wait $!
