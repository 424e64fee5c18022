"""A stack output that names a load balancer opens the app locally (``api/cloudformation/local_urls``):
the DNS name under ``.localhost`` with the local port of the listener the output means."""

from __future__ import annotations

from albfargate.api.backend import LocalListener
from albfargate.api.cloudformation.local_urls import local_host, localize

DNS = "ClassicS-MyFargat-22B822291D24-7605649608.us-east-1.elb.amazonaws.com"
LOCAL = "ClassicS-MyFargat-22B822291D24-7605649608.us-east-1.elb.localhost"
HTTP = LocalListener(DNS, "HTTP", 80, 8080)
HTTPS = LocalListener(DNS, "HTTPS", 443, 8443)
ALT = LocalListener(DNS, "HTTP", 8000, 8001)


def test_local_host_keeps_the_name_under_localhost() -> None:
    assert local_host(DNS) == LOCAL
    assert local_host("internal-x-1.eu-west-1.elb.amazonaws.com.cn") == "internal-x-1.eu-west-1.elb.localhost"
    assert local_host("already.example") == "already.example.localhost"


def test_service_url_and_dns_outputs_get_the_listener_port() -> None:
    assert localize(f"http://{DNS}", [HTTP, HTTPS]) == f"http://{LOCAL}:8080"
    assert localize(f"https://{DNS}", [HTTP, HTTPS]) == f"https://{LOCAL}:8443"
    assert localize(DNS, [HTTPS, HTTP]) == f"{LOCAL}:8080"  # the bare name: the HTTP listener
    assert localize(f"http://{DNS}/path?q=1", [HTTP]) == f"http://{LOCAL}:8080/path?q=1"
    assert localize(f"http://{DNS.lower()}", [HTTP]) == f"http://{LOCAL.lower()}:8080"


def test_an_explicit_port_picks_that_listener_and_port_80_comes_first() -> None:
    assert localize(f"http://{DNS}:8000/", [HTTP, ALT]) == f"http://{LOCAL}:8001/"
    assert localize(f"http://{DNS}", [ALT, HTTP]) == f"http://{LOCAL}:8080"
    assert localize(f"http://{DNS}", [ALT]) == f"http://{LOCAL}:8001"  # the only HTTP listener


def test_what_has_no_bound_listener_is_left_as_it_is() -> None:
    assert localize(f"http://{DNS}", []) == f"http://{DNS}"
    assert localize(f"https://{DNS}", [HTTP]) == f"https://{DNS}"
    assert localize(f"http://{DNS}:9999", [HTTP]) == f"http://{DNS}:9999"
    assert localize("arn:aws:s3:::bucket", [HTTP]) == "arn:aws:s3:::bucket"
    # a longer name that only starts with the DNS name is another name
    assert localize(f"http://{DNS}.example.org", [HTTP]) == f"http://{DNS}.example.org"


def test_two_load_balancers_in_one_value() -> None:
    other = LocalListener("Other-1.us-east-1.elb.amazonaws.com", "HTTP", 80, 8081)
    value = f"{DNS},Other-1.us-east-1.elb.amazonaws.com"
    assert localize(value, [HTTP, other]) == f"{LOCAL}:8080,Other-1.us-east-1.elb.localhost:8081"
