#!/bin/sh
# One HTTP/1.0 answer per connection (nc -ll -e): the request is read up to its blank line (so the
# close is clean, not a reset), then the body "<uptime seconds> <idle seconds> boot_id <uuid>".
cr=$(printf '\r')
while read -r -t 2 line; do
    case "$line" in "" | "$cr") break ;; esac
done
body="$(cat /proc/uptime) boot_id $(cat /proc/sys/kernel/random/boot_id)"
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n' \
    $((${#body} + 1)) "$body"
