"""Where a webhook may post: the addresses a URL's host name resolves to, checked.

A URL written with a public-looking name can still lead into the server's own network: the
machine's host name, ``127.1``, or any DNS name whose record points at 10.0.0.0/8 or at a cloud
metadata address (169.254.169.254). So the name is resolved, every address it resolves to must be
public (or loopback, when local webhooks are allowed), and the delivery connects to the address
that was checked. Connecting to the checked address, not to the name again, is what stops a
name that answers with a public address for the check and a private one for the connection
(DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The host cannot be posted to; the message is short and safe to show its owner."""


class Unresolved(AddressRefused):
    """The name does not resolve (now): a registration is accepted, a delivery retried."""


def allowed(address: IPAddress, allow_loopback: bool) -> bool:
    """Public addresses always; loopback ones only when local webhooks are allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    return address.is_global or (allow_loopback and address.is_loopback)


def resolve(host: str, port: int, allow_loopback: bool) -> str:
    """One address of ``host`` to connect to, after checking every address it resolves to.

    Raises ``Unresolved`` when the name does not resolve, and ``AddressRefused`` when any of
    its addresses is private, reserved, link-local or (unless allowed) loopback: a name with
    one public and one private record is refused, since the connection could take either.
    """
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolved("the webhook host name does not resolve") from exc
    found: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]  # an IPv6 scope ("fe80::1%eth0") is not part of it
        if text not in found:
            found.append(text)
    if not found:
        raise Unresolved("the webhook host name does not resolve")
    for text in found:
        if not allowed(ipaddress.ip_address(text), allow_loopback):
            raise AddressRefused("the webhook URL must not point at a private or reserved address")
    return found[0]
